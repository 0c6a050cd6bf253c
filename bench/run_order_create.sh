#!/usr/bin/env bash
# Durable order creation, side by side: orderd (HTTP, keep-alive wrk clients) against the same
# rows inserted into PostgreSQL 15 (synchronous_commit=on, fsync=on) by pgbench with the same
# client concurrency. Prints orders/s, p50 and p99 latency for both, the ratio, and how many
# orders each side really stored afterwards. See BENCHMARKS.md.
#
#   bench/run_order_create.sh                     both halves, 64 connections, 20 s each
#   CONNECTIONS=128 DURATION=30 bench/run_order_create.sh
#   ONLY=pg bench/run_order_create.sh             only the PostgreSQL peer
#   ONLY=orderd bench/run_order_create.sh         only orderd
#
# Environment: BUILD_DIR (default build/; orderd and orderctl must already be built there by
# scripts/build.sh, this script builds nothing), ORDERD, ORDERCTL (binaries, override BUILD_DIR),
# CONNECTIONS (64), THREADS (2, wrk -t and pgbench -j), DURATION (20, seconds), WRK_TIMEOUT (5s),
# PG_BIN (/usr/lib/postgresql/15/bin), PG_QUERY_MODE (prepared; pgbench -M), KEEP=1 (keep the
# temp dirs and logs and print where they are).
# Needs wrk, curl, python3, sqlite3 and postgresql-15 (scripts/install-deps.sh installs them);
# PostgreSQL's initdb refuses root, so as root the server runs as the `postgres` user (runuser).
# Only 127.0.0.1 is used. Exit status: 0 when both halves ran cleanly; 1 on a setup error; 3 when
# a run was not clean (non-2xx responses, socket errors, failed transactions, or fewer orders
# stored than acknowledged).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-${ROOT}/build}"
ORDERD="${ORDERD:-${BUILD_DIR}/src/exe/orderd}"
ORDERCTL="${ORDERCTL:-${BUILD_DIR}/src/exe/orderctl}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
DURATION="${DURATION:-20}"
WRK_TIMEOUT="${WRK_TIMEOUT:-5s}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_QUERY_MODE="${PG_QUERY_MODE:-prepared}"
ONLY="${ONLY:-both}"
KEEP="${KEEP:-0}"
# Below this many orders/s orderd misses its target (DESIGN/issue: 2-core machine).
TARGET_ORDERS_PER_S=20000
# How long orderd may take to print "listening on" and to drain after SIGTERM.
STARTUP_TIMEOUT_S=30
SHUTDOWN_TIMEOUT_S=60

RUN_ID="$(date +%s)"
WORK="$(mktemp -d /tmp/oc-bench.XXXXXX)"
ORDERD_PID=""
PG_STARTED=0
unclean=0
# shellcheck source=bench/lib.sh
source "${ROOT}/bench/lib.sh"

cleanup() {
  local rc=$?
  orderd_stop || true
  [[ "${PG_STARTED}" == "1" ]] && pg_stop
  if [[ "${KEEP}" == "1" ]]; then
    log "kept ${WORK}"
  else
    rm -rf "${WORK}"
  fi
  exit "${rc}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# p50 and p99 in ms of column 3 (microseconds) of pgbench's per-transaction logs.
percentiles_ms() {
  cat "$@" | awk '{print $3}' | sort -n | awk '
    { v[NR] = $1 }
    END {
      if (NR == 0) { print "n/a n/a"; exit }
      i50 = int(NR * 0.50 + 0.5); if (i50 < 1) i50 = 1
      i99 = int(NR * 0.99 + 0.5); if (i99 < 1) i99 = 1
      printf "%.3f %.3f\n", v[i50] / 1000, v[i99] / 1000
    }'
}


case "${ONLY}" in both | orderd | pg) ;; *) die "ONLY must be both, orderd or pg (got '${ONLY}')" ;; esac
[[ "${CONNECTIONS}" =~ ^[0-9]+$ && "${CONNECTIONS}" -ge 1 ]] || die "CONNECTIONS must be a positive integer"
[[ "${THREADS}" =~ ^[0-9]+$ && "${THREADS}" -ge 1 ]] || die "THREADS must be a positive integer"
[[ "${DURATION}" =~ ^[0-9]+$ && "${DURATION}" -ge 1 ]] || die "DURATION must be whole seconds"
((CONNECTIONS >= THREADS)) || die "CONNECTIONS (${CONNECTIONS}) must be >= THREADS (${THREADS})"
need python3 python3

log "machine: $(nproc) core(s); clients: ${CONNECTIONS} connections, ${THREADS} threads, ${DURATION}s; run ${RUN_ID}"

# ------------------------------------------------------------------------------------------------
# orderd
# ------------------------------------------------------------------------------------------------
OC_RATE="" OC_FSYNCS=0 OC_P50="" OC_P99="" OC_ACKED="" OC_STORED="" OC_EVENTS=""
run_orderd() {
  need wrk wrk
  need curl curl
  need sqlite3 sqlite3
  [[ -x "${ORDERD}" ]] || die "no orderd at ${ORDERD}; build first: scripts/build.sh (or set BUILD_DIR / ORDERD)"
  [[ -x "${ORDERCTL}" ]] || die "no orderctl at ${ORDERCTL}; build first: scripts/build.sh (or set BUILD_DIR / ORDERCTL)"

  local dir="${WORK}/orderd"
  orderd_start "${dir}"
  local base="${ORDERD_BASE}"
  local key admin_key
  key="$(orderd_key "${dir}" channel douyin)"
  # Orders reserve stock: put far more on the SKU than any run can sell, so nothing is refused.
  admin_key="$(orderd_key "${dir}" admin)"
  orderd_set_stock "${admin_key}" AIR-PURIFIER-X1 1000000000000

  # One probe request first, so a wrong route, key or body fails loudly instead of as 100% non-2xx.
  local probe_status
  probe_status="$(curl -sS -o "${dir}/probe.json" -w '%{http_code}' -X POST "${base}/v1/orders" \
    -H "Authorization: Bearer ${key}" -H 'Content-Type: application/json' \
    --data-binary "{\"channel\": \"douyin\", \"channel_order_id\": \"BENCH-${RUN_ID}-probe\", \"currency\": \"CNY\",
      \"customer\": {\"nickname\": \"小李\", \"name\": \"李四\", \"phone\": \"13812345678\", \"id_number\": null},
      \"shipping_address\": {\"province\": \"浙江省\", \"city\": \"杭州市\", \"district\": \"西湖区\", \"detail\": \"文三路 1 号\"},
      \"lines\": [{\"sku\": \"AIR-PURIFIER-X1\", \"name\": \"空气净化器\", \"qty\": 1, \"unit_price\": 129900}],
      \"payment_method\": \"wechat_pay\", \"reservation_id\": null, \"placed_at\": \"2026-11-11T00:00:01Z\"}")" ||
    die "probe POST /v1/orders to ${base} failed (curl)"
  [[ "${probe_status}" == "201" ]] ||
    die "probe POST /v1/orders answered ${probe_status}, want 201: $(head -c 600 "${dir}/probe.json")"

  log "wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION}s --timeout ${WRK_TIMEOUT} --latency -s bench/wrk/create_order.lua ${base} -- KEY ${RUN_ID}"
  wrk -t"${THREADS}" -c"${CONNECTIONS}" -d"${DURATION}s" --timeout "${WRK_TIMEOUT}" --latency \
    -s "${ROOT}/bench/wrk/create_order.lua" "${base}" -- "${key}" "${RUN_ID}" | tee "${dir}/wrk.txt" >&2

  # Group commit at work: how many acknowledged writes each WAL fsync carried.
  local fsyncs
  fsyncs="$(orderd_fsyncs)"
  OC_FSYNCS="${fsyncs:-0}"

  local summary
  summary="$(grep '^ocbench: requests=' "${dir}/wrk.txt" || true)"
  [[ -n "${summary}" ]] || die "wrk printed no 'ocbench:' summary line (see above)"
  OC_RATE="$(field created_per_s "${summary}")"
  OC_P50="$(field p50_ms "${summary}")"
  OC_P99="$(field p99_ms "${summary}")"
  OC_ACKED="$(field created_201 "${summary}")"
  local non2xx socket_errors
  non2xx="$(field non2xx "${summary}")"
  socket_errors="$(field socket_errors "${summary}")"
  if ((non2xx > 0)); then
    log "NOT CLEAN: orderd answered ${non2xx} non-2xx responses (see 'ocbench:' lines above)"
    unclean=1
  fi
  if ((socket_errors > 0)); then
    log "NOT CLEAN: wrk saw ${socket_errors} socket errors/timeouts"
    unclean=1
  fi

  # Stop with SIGTERM (drain), then count what is on disk.
  if ! orderd_stop; then
    log "NOT CLEAN: orderd did not stop cleanly after SIGTERM"
    unclean=1
  fi

  local db="${dir}/data/ordercenter.db"
  [[ -f "${db}" ]] || die "no ${db} after the run; cannot verify what orderd stored"
  # The probe order is not counted as acknowledged by wrk, so leave it out of the count.
  OC_STORED="$(sqlite3 "${db}" "SELECT count(*) FROM orders WHERE channel_order_id LIKE 'BENCH-${RUN_ID}-%' AND channel_order_id <> 'BENCH-${RUN_ID}-probe'")"
  OC_EVENTS="$(sqlite3 "${db}" "SELECT count(*) FROM outbox o JOIN orders r ON r.id = o.order_id WHERE o.type = 'order.created' AND r.channel_order_id LIKE 'BENCH-${RUN_ID}-%' AND r.channel_order_id <> 'BENCH-${RUN_ID}-probe'")"
  log "orderd: acknowledged 201 = ${OC_ACKED}, orders stored = ${OC_STORED}, order.created events stored = ${OC_EVENTS}"
  # Stored may exceed acknowledged by the requests in flight when wrk stopped; never the reverse.
  if ((OC_STORED < OC_ACKED)); then
    log "NOT CLEAN: orderd stored fewer orders (${OC_STORED}) than it acknowledged (${OC_ACKED})"
    unclean=1
  fi
  if ((OC_STORED > OC_ACKED + CONNECTIONS)); then
    log "NOT CLEAN: orderd stored ${OC_STORED} orders, more than the ${OC_ACKED} acknowledged plus" \
      "${CONNECTIONS} in flight at the end"
    unclean=1
  fi
  if ((OC_EVENTS != OC_STORED)); then
    log "NOT CLEAN: ${OC_STORED} orders but ${OC_EVENTS} order.created outbox events"
    unclean=1
  fi
}

# ------------------------------------------------------------------------------------------------
# PostgreSQL 15 peer
# ------------------------------------------------------------------------------------------------
PG_RATE="" PG_P50="" PG_P99="" PG_AVG="" PG_ACKED="" PG_STORED="" PG_EVENTS=""
run_pg() {
  [[ -x "${PG_BIN}/pgbench" ]] ||
    die "pgbench not found in ${PG_BIN}; run scripts/install-deps.sh (package: postgresql-15)"
  local dir="${WORK}/pg"
  [[ "$(id -u)" == "0" ]] && chmod 711 "${WORK}"  # mktemp's 0700 would keep the postgres user out
  pg_start "${dir}" $((CONNECTIONS + 10))
  local port="${PG_PORT}"
  PG_STARTED=1

  local psql=("${PG_BIN}/psql" -h 127.0.0.1 -p "${port}" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt)
  "${psql[@]}" -c "SHOW synchronous_commit; SHOW fsync; SHOW server_version" | paste -sd' ' |
    sed 's/^/bench: postgres synchronous_commit, fsync, version: /' >&2
  "${psql[@]}" -f "${ROOT}/bench/pg/schema.sql" 2>&1 | grep -v NOTICE >&2 || true
  "${psql[@]}" -c "SELECT 1 FROM orders LIMIT 1" >/dev/null || die "loading bench/pg/schema.sql failed"

  log "pgbench -n -M ${PG_QUERY_MODE} -c ${CONNECTIONS} -j ${THREADS} -T ${DURATION} -D run=${RUN_ID} -D n=0 -f bench/pg/create_order.sql -l"
  local out="${dir}/pgbench.txt"
  (cd "${dir}" && "${PG_BIN}/pgbench" -h 127.0.0.1 -p "${port}" -U postgres -n -M "${PG_QUERY_MODE}" \
    -c "${CONNECTIONS}" -j "${THREADS}" -T "${DURATION}" -D run="${RUN_ID}" -D n=0 \
    -f "${ROOT}/bench/pg/create_order.sql" -l --log-prefix="${dir}/pgbench_log" postgres) \
    >"${out}" 2>&1 || {
    cat "${out}" >&2
    die "pgbench failed"
  }
  cat "${out}" >&2
  PG_RATE="$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time).*/\1/p' "${out}")"
  PG_AVG="$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "${out}")"
  PG_ACKED="$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "${out}")"
  local failed
  failed="$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "${out}")"
  [[ -n "${PG_RATE}" && -n "${PG_ACKED}" ]] || die "could not read tps / transactions from pgbench's output"
  if grep -q 'aborted' "${out}" || ((${failed:-0} > 0)); then
    log "NOT CLEAN: pgbench reports failed or aborted transactions"
    unclean=1
  fi
  compgen -G "${dir}/pgbench_log*" >/dev/null || die "pgbench wrote no per-transaction log (-l)"
  read -r PG_P50 PG_P99 < <(percentiles_ms "${dir}"/pgbench_log*)

  PG_STORED="$("${psql[@]}" -c "SELECT count(*) FROM orders WHERE id LIKE 'ord\_${RUN_ID}\_%'")"
  PG_EVENTS="$("${psql[@]}" -c "SELECT count(*) FROM outbox WHERE type = 'order.created' AND id LIKE 'evt\_${RUN_ID}\_%'")"
  log "postgres: committed transactions = ${PG_ACKED}, orders stored = ${PG_STORED}, outbox rows = ${PG_EVENTS}"
  if ((PG_STORED < PG_ACKED || PG_EVENTS != PG_STORED)); then
    log "NOT CLEAN: PostgreSQL stored ${PG_STORED} orders / ${PG_EVENTS} events for ${PG_ACKED} commits"
    unclean=1
  fi

  as_postgres "${PG_BIN}/pg_ctl" -D "${PG_DATA}" -m fast -w stop >/dev/null || true
  PG_STARTED=0
}

[[ "${ONLY}" != "pg" ]] && run_orderd
[[ "${ONLY}" != "orderd" ]] && run_pg

# ------------------------------------------------------------------------------------------------
# Side by side
# ------------------------------------------------------------------------------------------------
echo
echo "Durable order creation, ${CONNECTIONS} keep-alive clients, ${DURATION}s, $(nproc) cores, run ${RUN_ID}"
echo
printf '| %-50s | %10s | %8s | %8s | %12s | %12s |\n' "system" "orders/s" "p50 ms" "p99 ms" "acknowledged" "stored"
printf '|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..52})" "$(printf -- '-%.0s' {1..12})" \
  "$(printf -- '-%.0s' {1..10})" "$(printf -- '-%.0s' {1..10})" "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..14})"
if [[ -n "${OC_RATE}" ]]; then
  printf '| %-50s | %10.0f | %8.2f | %8.2f | %12s | %12s |\n' "OrderCenter orderd (HTTP, SQLite WAL + fsync)" \
    "${OC_RATE}" "${OC_P50}" "${OC_P99}" "${OC_ACKED}" "${OC_STORED}"
fi
if [[ -n "${PG_RATE}" ]]; then
  printf '| %-50s | %10.0f | %8.2f | %8.2f | %12s | %12s |\n' "PostgreSQL 15 pgbench (sync commit, -M ${PG_QUERY_MODE})" \
    "${PG_RATE}" "${PG_P50}" "${PG_P99}" "${PG_ACKED}" "${PG_STORED}"
  echo
  echo "PostgreSQL latency average: ${PG_AVG} ms (pgbench); p50/p99 from its per-transaction log."
fi
if [[ -n "${OC_RATE}" ]]; then
  echo
  awk -v r="${OC_RATE}" -v t="${TARGET_ORDERS_PER_S}" 'BEGIN {
    printf "target >= %d durable orders/s: %s (%.0f)\n", t, (r >= t ? "MET" : "NOT MET"), r }'
  awk -v n="${OC_ACKED}" -v f="${OC_FSYNCS}" 'BEGIN {
    printf "group commit: %d WAL fsyncs for %d orders = %.1f orders per fsync\n", f, n, (f > 0 ? n / f : 0) }'
fi
if [[ -n "${OC_RATE}" && -n "${PG_RATE}" ]]; then
  awk -v a="${OC_RATE}" -v b="${PG_RATE}" 'BEGIN {
    printf "orderd / PostgreSQL: %.2fx (%s)\n", (b > 0 ? a / b : 0), (a > b ? "orderd faster" : "orderd NOT faster") }'
fi
if ((unclean)); then
  echo
  echo "NOT CLEAN: see the 'NOT CLEAN' lines above; these figures must not be recorded as is."
  exit 3
fi
