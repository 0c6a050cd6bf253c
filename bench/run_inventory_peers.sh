#!/usr/bin/env bash
# Issue 3 benchmark, side by side in one run: successful stock reservations per second for
#   (a) the OrderCenter inventory engine in-process (Google Benchmark, build/bench/),
#   (c) Redis 7 running the classic Lua check-and-decrement via EVALSHA, 50 clients, unpipelined
#       and with -P 16 (redis-benchmark),
#   (d) PostgreSQL 15: UPDATE stock SET qty = qty - 1 WHERE sku = $1 AND qty > 0, 64 clients.
# Stock is far larger than any run can sell, so every attempt succeeds, and each peer's
# conservation is checked afterwards (units taken == successful operations). Loopback only;
# every server is started here on a free port and stopped on exit. Prints the ratios.
#
#   bench/run_inventory_peers.sh                 REQUESTS=1000000 DURATION=15
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-${ROOT}/build}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
REQUESTS="${REQUESTS:-1000000}"   # per redis-benchmark run
DURATION="${DURATION:-15}"        # pgbench seconds
# shellcheck source=bench/lib.sh
source "${ROOT}/bench/lib.sh"

WORK="$(mktemp -d /tmp/oc-inv-bench.XXXXXX)"
REDIS_PID=""
cleanup() {
  local rc=$?
  if [[ -n "${REDIS_PID}" ]]; then kill "${REDIS_PID}" 2>/dev/null || true; fi
  pg_stop
  rm -rf "${WORK}"
  exit "${rc}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need redis-server redis-server
need redis-benchmark redis-tools
need redis-cli redis-tools
ENGINE="${BUILD_DIR}/bench/inventory_engine_benchmark"
[[ -x "${ENGINE}" ]] || die "${ENGINE} not built; run scripts/build.sh"

# (a) the engine. It aborts by itself if conservation breaks.
log "${ENGINE} --benchmark_filter=BM_ReserveOneHotSku --benchmark_min_time=2"
ENGINE_RATE="$("${ENGINE}" --benchmark_filter=BM_ReserveOneHotSku --benchmark_min_time=2 \
  --benchmark_format=json | python3 -c '
import json, sys
print(int(json.load(sys.stdin)["benchmarks"][0]["successful_per_s"]))')"

# (c) Redis with the check-and-decrement script every flash-sale tutorial shows.
REDIS_PORT="$(free_port)"
redis-server --port "${REDIS_PORT}" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
  --dir "${WORK}" >"${WORK}/redis.log" 2>&1 &
REDIS_PID=$!
rcli() { redis-cli -p "${REDIS_PORT}" "$@"; }
for _ in $(seq 1 100); do rcli ping >/dev/null 2>&1 && break; sleep 0.05; done
rcli ping >/dev/null || die "redis-server did not start: $(tail -3 "${WORK}/redis.log")"
LUA='local q = tonumber(redis.call("GET", KEYS[1])); if q and q >= tonumber(ARGV[1]) then redis.call("DECRBY", KEYS[1], ARGV[1]); return 1 end; return 0'
SHA="$(rcli script load "${LUA}")"
redis_run() {  # redis_run PIPELINE -> successful ops/s, with conservation checked
  local pipeline="$1" start=1000000000000
  rcli set stock:hot "${start}" >/dev/null
  local out
  out="$(redis-benchmark -p "${REDIS_PORT}" -c 50 -n "${REQUESTS}" -P "${pipeline}" -q \
    evalsha "${SHA}" 1 stock:hot 1 2>&1 | tr '\r' '\n' | grep -E 'requests per second' | tail -1)"
  local left taken
  left="$(rcli get stock:hot)"
  taken=$((start - left))
  [[ "${taken}" == "${REQUESTS}" ]] || die "redis conservation: ${taken} units taken for ${REQUESTS} requests"
  sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' <<<"${out}" | cut -d. -f1
}
log "redis-benchmark -c 50 -n ${REQUESTS} evalsha <check-and-decrement> (unpipelined, then -P 16)"
REDIS_RATE="$(redis_run 1)"
REDIS_P16_RATE="$(redis_run 16)"

# (d) PostgreSQL, one hot row.
chmod 711 "${WORK}"
pg_start "${WORK}/pg" 80
psql=("${PG_BIN}/psql" -h 127.0.0.1 -p "${PG_PORT}" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt)
"${psql[@]}" -c "CREATE TABLE stock (sku text PRIMARY KEY, qty bigint NOT NULL);
                 INSERT INTO stock VALUES ('HOT', 1000000000000);"
echo "UPDATE stock SET qty = qty - 1 WHERE sku = 'HOT' AND qty > 0;" >"${WORK}/decrement.sql"
log "pgbench -n -M prepared -c 64 -j 2 -T ${DURATION} -f decrement.sql"
"${PG_BIN}/pgbench" -h 127.0.0.1 -p "${PG_PORT}" -U postgres -n -M prepared -c 64 -j 2 \
  -T "${DURATION}" -f "${WORK}/decrement.sql" postgres >"${WORK}/pgbench.txt" 2>&1 ||
  die "pgbench failed: $(tail -5 "${WORK}/pgbench.txt")"
PG_TXNS="$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "${WORK}/pgbench.txt")"
PG_RATE="$(sed -n 's/^tps = \([0-9]*\).*/\1/p' "${WORK}/pgbench.txt")"
PG_TAKEN=$((1000000000000 - $("${psql[@]}" -c "SELECT qty FROM stock WHERE sku = 'HOT'")))
[[ "${PG_TAKEN}" == "${PG_TXNS}" ]] || die "postgres conservation: ${PG_TAKEN} units for ${PG_TXNS} commits"

echo
echo "Successful reservations per second, one hot SKU, 2 cores, one run:"
printf '| %-58s | %12s |\n' "system" "successful/s"
printf '|%s|%s|\n' "------------------------------------------------------------" "--------------"
printf '| %-58s | %12s |\n' "(a) OrderCenter inventory engine, in-process" "${ENGINE_RATE}"
printf '| %-58s | %12s |\n' "(c) Redis 7 EVALSHA check-and-decrement, 50 clients" "${REDIS_RATE}"
printf '| %-58s | %12s |\n' "(c) Redis 7 EVALSHA check-and-decrement, 50 clients, -P 16" "${REDIS_P16_RATE}"
printf '| %-58s | %12s |\n' "(d) PostgreSQL 15 UPDATE ... WHERE qty > 0, 64 clients" "${PG_RATE}"
python3 - "${ENGINE_RATE}" "${REDIS_P16_RATE}" "${PG_RATE}" <<'PY'
import sys
a, c16, d = map(float, sys.argv[1:])
print(f"(a) / (c) pipelined: {a / c16:.1f}x   (target >= 10x)")
print(f"(a) / (d):           {a / d:.1f}x   (target >= 20x)")
PY
echo "conservation: every peer took exactly one unit per successful operation; the engine checks its own"
