#!/usr/bin/env bash
# Issue 3 benchmark, side by side in one run: successful stock reservations per second for
#   (a) the OrderCenter inventory engine in-process (Google Benchmark, build/bench/),
#   (b) orderd end to end: POST /v1/reservations (checkout holds of one unit) over HTTP from
#       HOLD_CONNECTIONS keep-alive wrk clients, every 201 durable (fsync'd) before it is sent;
#       then a sell-out run (SELLOUT_UNITS units, same clients) that must hold exactly that many,
#   (c) Redis 7 running the classic Lua check-and-decrement via EVALSHA, 50 clients (the issue's
#       figure), unpipelined and with -P 16 (redis-benchmark),
#   and, for context, (b) and (c) unpipelined at the same client counts (EQUAL_CLIENTS), since
#       each side is compared at its own best: orderd's group commit needs many buyers at once
#       (a flash sale has them), Redis does best at few.
#   (d) PostgreSQL 15: UPDATE stock SET qty = qty - 1 WHERE sku = $1 AND qty > 0, 64 clients.
# Stock is far larger than any run can sell, so every attempt succeeds, and each peer's
# conservation is checked afterwards (units taken == successful operations). Loopback only;
# every server is started here on a free port and stopped on exit. Prints the ratios.
#
#   bench/run_inventory_peers.sh     REQUESTS=1000000 DURATION=15 HOLD_CONNECTIONS=512 ROUNDS=3
#                                    EQUAL_CLIENTS="256 512"
#
# It also prints each side's CPU per successful operation for (b) and (c): where the time goes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-${ROOT}/build}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
REQUESTS="${REQUESTS:-1000000}"   # per redis-benchmark run
ROUNDS="${ROUNDS:-3}"             # alternating rounds of (b) and (c) unpipelined
DURATION="${DURATION:-15}"        # pgbench and wrk seconds
# (b): buyers at once. A flash sale has thousands; orderd's group commit shares an fsync among
# the requests that arrive during the previous one, so more clients mean fuller groups and less
# CPU per hold, up to a point: session 7's sweep (BENCHMARKS.md) found 512 best of 256/512/1024.
HOLD_CONNECTIONS="${HOLD_CONNECTIONS:-512}"
EQUAL_CLIENTS="${EQUAL_CLIENTS:-256 512}"  # context: (b) and (c) at the same client counts
SELLOUT_UNITS="${SELLOUT_UNITS:-1000}"
ORDERD="${ORDERD:-${BUILD_DIR}/src/exe/orderd}"
ORDERCTL="${ORDERCTL:-${BUILD_DIR}/src/exe/orderctl}"
# shellcheck source=bench/lib.sh
source "${ROOT}/bench/lib.sh"

WORK="$(mktemp -d /tmp/oc-inv-bench.XXXXXX)"
REDIS_PID=""
ORDERD_PID=""
cleanup() {
  local rc=$?
  orderd_stop || true
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
need wrk wrk
need sqlite3 sqlite3
need curl curl
ENGINE="${BUILD_DIR}/bench/inventory_engine_benchmark"
[[ -x "${ENGINE}" ]] || die "${ENGINE} not built; run scripts/build.sh"

# (a) the engine. It aborts by itself if conservation breaks.
log "${ENGINE} --benchmark_filter=BM_ReserveOneHotSku --benchmark_min_time=2"
ENGINE_RATE="$("${ENGINE}" --benchmark_filter=BM_ReserveOneHotSku --benchmark_min_time=2 \
  --benchmark_format=json | python3 -c '
import json, sys
print(int(json.load(sys.stdin)["benchmarks"][0]["successful_per_s"]))')"

# (b) and (c) unpipelined are the pair the target compares, and this host's speed drifts by a
# quarter within a minute: they run in ROUNDS alternating rounds, and the medians are compared.
# CPU accounting, to compare where each system's time goes (not a target, context for one):
# a server's user and system seconds from /proc (server_cpu, bench/lib.sh), a client's from the
# shell's `times` (the children's line), taken around the timed run.
children_cpu() {  # children_cpu FILE: this shell's children so far, as "user sys" seconds
  times >"$1.raw"  # not in a pipeline: a pipeline's subshell has no children yet
  tail -1 "$1.raw" | python3 -c '
import re, sys
m = re.findall(r"(\d+)m([\d.]+)s", sys.stdin.read())
print(" ".join(f"{int(a) * 60 + float(b):.2f}" for a, b in m))' >"$1"
}
run_holds() {  # run_holds KEY SKU SECONDS TAG MODE [CLIENTS] -> the wrk ocbench summary line
  # MODE (bench/wrk/reserve.lua): lean for the timed rounds, answers counted by wrk's C code as
  # redis-benchmark counts its own; count for the sell-out, where 201 and 409 are told apart.
  local key="$1" sku="$2" seconds="$3" tag="$4" mode="$5" clients="${6:-${HOLD_CONNECTIONS}}"
  log "wrk -t2 -c${clients} -d${seconds}s --latency -s bench/wrk/reserve.lua ${ORDERD_BASE} -- KEY ${sku} ${mode}"
  children_cpu "${WORK}/client-before-${tag}"
  wrk -t2 -c"${clients}" -d"${seconds}s" --timeout 10s --latency \
    -s "${ROOT}/bench/wrk/reserve.lua" "${ORDERD_BASE}" -- "${key}" "${sku}" "${mode}" >"${WORK}/wrk-${tag}.txt" 2>&1 ||
    die "wrk failed: $(tail -5 "${WORK}/wrk-${tag}.txt")"
  children_cpu "${WORK}/client-after-${tag}"
  grep "^ocbench: mode=${mode} requests=" "${WORK}/wrk-${tag}.txt" || die "wrk printed no summary: $(tail -5 "${WORK}/wrk-${tag}.txt")"
}

# (c)'s server: Redis with the check-and-decrement script every flash-sale tutorial shows.
REDIS_PORT="$(free_port)"
redis-server --port "${REDIS_PORT}" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
  --dir "${WORK}" >"${WORK}/redis.log" 2>&1 &
REDIS_PID=$!
rcli() { redis-cli -p "${REDIS_PORT}" "$@"; }
for _ in $(seq 1 100); do rcli ping >/dev/null 2>&1 && break; sleep 0.05; done
rcli ping >/dev/null || die "redis-server did not start: $(tail -3 "${WORK}/redis.log")"
LUA='local q = tonumber(redis.call("GET", KEYS[1])); if q and q >= tonumber(ARGV[1]) then redis.call("DECRBY", KEYS[1], ARGV[1]); return 1 end; return 0'
SHA="$(rcli script load "${LUA}")"
redis_run() {  # redis_run PIPELINE TAG [CLIENTS] -> successful ops/s, with conservation checked
  local pipeline="$1" tag="$2" clients="${3:-50}" start=1000000000000
  rcli set stock:hot "${start}" >/dev/null
  local out
  children_cpu "${WORK}/client-before-${tag}"
  out="$(redis-benchmark -p "${REDIS_PORT}" -c "${clients}" -n "${REQUESTS}" -P "${pipeline}" -q \
    evalsha "${SHA}" 1 stock:hot 1 2>&1 | tr '\r' '\n' | grep -E 'requests per second' | tail -1)"
  children_cpu "${WORK}/client-after-${tag}"
  local left taken
  left="$(rcli get stock:hot)"
  taken=$((start - left))
  [[ "${taken}" == "${REQUESTS}" ]] || die "redis conservation: ${taken} units taken for ${REQUESTS} requests"
  sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' <<<"${out}" | cut -d. -f1
}

orderd_start "${WORK}/orderd"
HOLD_KEY="$(orderd_key "${WORK}/orderd" channel douyin)"
ADMIN_KEY="$(orderd_key "${WORK}/orderd" admin)"
orderd_set_stock "${ADMIN_KEY}" HOT 1000000000000
orderd_set_stock "${ADMIN_KEY}" SELLOUT "${SELLOUT_UNITS}"
HOLD_RATES=()
HOLD_P99S=()
REDIS_RATES=()
HOLD_ACKED=0
HOLDS_PER_FSYNC_ALL=()
CPU_B=()  # per round: "orderd_user_us orderd_sys_us wrk_us" per successful hold
CPU_C=()  # per round: "redis_user_us redis_sys_us redis_benchmark_us" per successful op
per_op() {  # per_op OPS BEFORE AFTER CLIENT_BEFORE_FILE CLIENT_AFTER_FILE -> three µs figures
  python3 - "$@" <<'PY'
import sys
ops = float(sys.argv[1])
b = [float(x) for x in sys.argv[2].split()]; a = [float(x) for x in sys.argv[3].split()]
cb = [float(x) for x in open(sys.argv[4]).read().split()]
ca = [float(x) for x in open(sys.argv[5]).read().split()]
us = lambda s: s * 1e6 / max(ops, 1)
print(f"{us(a[0] - b[0]):.1f} {us(a[1] - b[1]):.1f} {us(sum(ca) - sum(cb)):.1f}")
PY
}
for round in $(seq 1 "${ROUNDS}"); do
  FSYNCS_BEFORE="$(orderd_fsyncs)"
  SERVER_BEFORE="$(server_cpu "${ORDERD_PID}")"
  summary="$(run_holds "${HOLD_KEY}" HOT "${DURATION}" "hot-${round}" lean)"
  SERVER_AFTER="$(server_cpu "${ORDERD_PID}")"
  FSYNCS_AFTER="$(orderd_fsyncs)"
  clean_or_die "${summary}"
  # A refusal (409, out of stock) would be a not_2xx answer, and clean_or_die stops at any.
  acked="$(field held_2xx "${summary}")"
  HOLD_ACKED=$((HOLD_ACKED + acked))
  HOLD_RATES+=("$(field held_per_s "${summary}" | cut -d. -f1)")
  HOLD_P99S+=("$(field p99_ms "${summary}")")
  HOLDS_PER_FSYNC_ALL+=("$(python3 -c "print(f'{${acked} / max(1, ${FSYNCS_AFTER} - ${FSYNCS_BEFORE}):.1f}')")")
  CPU_B+=("$(per_op "${acked}" "${SERVER_BEFORE}" "${SERVER_AFTER}" \
    "${WORK}/client-before-hot-${round}" "${WORK}/client-after-hot-${round}")")
  log "redis-benchmark -c 50 -n ${REQUESTS} evalsha <check-and-decrement> (unpipelined), round ${round}"
  SERVER_BEFORE="$(server_cpu "${REDIS_PID}")"
  REDIS_RATES+=("$(redis_run 1 "redis-${round}")")
  SERVER_AFTER="$(server_cpu "${REDIS_PID}")"
  CPU_C+=("$(per_op "${REQUESTS}" "${SERVER_BEFORE}" "${SERVER_AFTER}" \
    "${WORK}/client-before-redis-${round}" "${WORK}/client-after-redis-${round}")")
  log "round ${round}: (b) ${HOLD_RATES[-1]}/s, ${HOLDS_PER_FSYNC_ALL[-1]} holds per fsync; (c) ${REDIS_RATES[-1]}/s"
done
# Context: both at the same client counts, one round each, alternating as above.
EQUAL_ROWS=()
EQUAL_IN_FLIGHT=0
for clients in ${EQUAL_CLIENTS}; do
  summary="$(run_holds "${HOLD_KEY}" HOT "${DURATION}" "equal-${clients}" lean "${clients}")"
  clean_or_die "${summary}"
  HOLD_ACKED=$((HOLD_ACKED + $(field held_2xx "${summary}")))
  EQUAL_IN_FLIGHT=$((EQUAL_IN_FLIGHT + clients))
  held="$(field held_per_s "${summary}" | cut -d. -f1)"
  log "redis-benchmark -c ${clients} -n ${REQUESTS} evalsha <check-and-decrement> (unpipelined)"
  redis="$(redis_run 1 "redis-equal-${clients}" "${clients}")"
  EQUAL_ROWS+=("${clients} ${held} ${redis}")
  log "${clients} clients each: (b) ${held}/s; (c) ${redis}/s"
done
SELLOUT_SUMMARY="$(run_holds "${HOLD_KEY}" SELLOUT 5 sellout count)"
clean_or_die "${SELLOUT_SUMMARY}"
orderd_stop || die "orderd did not stop cleanly"
# Conservation, from the database file: every hold on disk is one reserved unit, and no more
# than the units there were; the acknowledged holds are all there (plus at most the requests in
# flight when each round's wrk stopped).
DB="${WORK}/orderd/data/ordercenter.db"
HOT_RESERVED="$(sqlite3 "${DB}" "SELECT reserved FROM inventory WHERE sku = 'HOT'")"
HOT_HOLDS="$(sqlite3 "${DB}" "SELECT coalesce(sum(json_extract(lines, '\$[0].qty')), 0) FROM reservations WHERE json_extract(lines, '\$[0].sku') = 'HOT' AND state = 'active'")"
[[ "${HOT_RESERVED}" == "${HOT_HOLDS}" ]] || die "(b) conservation: HOT reserved ${HOT_RESERVED} != ${HOT_HOLDS} units in active holds"
((HOT_HOLDS >= HOLD_ACKED && HOT_HOLDS <= HOLD_ACKED + ROUNDS * HOLD_CONNECTIONS + EQUAL_IN_FLIGHT)) ||
  die "(b) ${HOLD_ACKED} holds acknowledged but ${HOT_HOLDS} stored"
SOLD_OUT_RESERVED="$(sqlite3 "${DB}" "SELECT reserved FROM inventory WHERE sku = 'SELLOUT'")"
SOLD_OUT_HOLDS="$(sqlite3 "${DB}" "SELECT count(*) FROM reservations WHERE json_extract(lines, '\$[0].sku') = 'SELLOUT'")"
SOLD_OUT_ACKED="$(field held_201 "${SELLOUT_SUMMARY}")"
[[ "${SOLD_OUT_RESERVED}" == "${SELLOUT_UNITS}" && "${SOLD_OUT_HOLDS}" == "${SELLOUT_UNITS}" ]] ||
  die "(b) sell-out: ${SOLD_OUT_HOLDS} holds and ${SOLD_OUT_RESERVED} reserved for ${SELLOUT_UNITS} units"
((SOLD_OUT_ACKED <= SELLOUT_UNITS)) || die "(b) sell-out: ${SOLD_OUT_ACKED} holds acknowledged for ${SELLOUT_UNITS} units"
log "(b) ${HOLD_ACKED} holds in ${ROUNDS} rounds and the equal-count runs; sell-out: exactly ${SELLOUT_UNITS} held of ${SELLOUT_UNITS}, $(field out_of_stock_409 "${SELLOUT_SUMMARY}") refused"
median() { python3 -c 'import statistics, sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
HOLD_RATE="$(median "${HOLD_RATES[@]}" | cut -d. -f1)"
HOLD_P99="$(median "${HOLD_P99S[@]}")"
REDIS_RATE="$(median "${REDIS_RATES[@]}" | cut -d. -f1)"
HOLDS_PER_FSYNC="$(median "${HOLDS_PER_FSYNC_ALL[@]}")"
log "redis-benchmark -c 50 -n ${REQUESTS} -P 16 evalsha <check-and-decrement>"
REDIS_P16_RATE="$(redis_run 16 redis-p16)"

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
echo "Successful reservations per second, one hot SKU, 2 cores, one script run:"
printf '| %-58s | %12s |\n' "system" "successful/s"
printf '|%s|%s|\n' "------------------------------------------------------------" "--------------"
printf '| %-58s | %12s |\n' "(a) OrderCenter inventory engine, in-process" "${ENGINE_RATE}"
printf '| %-58s | %12s |\n' "(b) orderd HTTP holds, durable, ${HOLD_CONNECTIONS} clients (p99 ${HOLD_P99} ms)" "${HOLD_RATE}"
printf '| %-58s | %12s |\n' "(c) Redis 7 EVALSHA check-and-decrement, 50 clients" "${REDIS_RATE}"
printf '| %-58s | %12s |\n' "(c) Redis 7 EVALSHA check-and-decrement, 50 clients, -P 16" "${REDIS_P16_RATE}"
printf '| %-58s | %12s |\n' "(d) PostgreSQL 15 UPDATE ... WHERE qty > 0, 64 clients" "${PG_RATE}"
echo "(b) and (c) unpipelined are medians of ${ROUNDS} alternating rounds: (b) ${HOLD_RATES[*]}; (c) ${REDIS_RATES[*]}; holds per fsync ${HOLDS_PER_FSYNC_ALL[*]}"
python3 - "${ENGINE_RATE}" "${REDIS_P16_RATE}" "${PG_RATE}" "${HOLD_RATE}" "${REDIS_RATE}" "${HOLDS_PER_FSYNC}" <<'PY'
import sys
a, c16, d, b, c1, per_fsync = map(float, sys.argv[1:])
print(f"(a) / (c) pipelined: {a / c16:.1f}x   (target >= 10x)")
print(f"(b) / (c) unpipelined: {b / c1:.2f}x   (target >= 1x), {per_fsync:.1f} holds per fsync (target >= 100)")
print(f"(a) / (d):           {a / d:.1f}x   (target >= 20x)")
PY
echo "Context, the same client counts on both sides (one round each; successful/s, and (b)/(c)):"
for row in "${EQUAL_ROWS[@]}"; do
  read -r clients held redis <<<"${row}"
  python3 -c "print(f'  ${clients} clients: (b) ${held}, (c) ${redis}, {${held} / max(1, ${redis}):.2f}x')"
done
python3 - "${CPU_B[@]}" -- "${CPU_C[@]}" <<'PY'
import statistics, sys
args = sys.argv[1:]
split = args.index("--")
def med(rows, i):
    return statistics.median(float(r.split()[i]) for r in rows)
b, c = args[:split], args[split + 1:]
print("CPU per successful operation, medians of the rounds (µs; servers from /proc, clients from times):")
print(f"  (b) orderd {med(b, 0):.1f} user + {med(b, 1):.1f} sys, wrk {med(b, 2):.1f};"
      f" (c) redis-server {med(c, 0):.1f} user + {med(c, 1):.1f} sys, redis-benchmark {med(c, 2):.1f}")
PY
echo "conservation: every peer took exactly one unit per successful operation; the engine checks its own;"
echo "orderd's holds on disk equal its reserved stock, and the sell-out held exactly ${SELLOUT_UNITS} of ${SELLOUT_UNITS}"
