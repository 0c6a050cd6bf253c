#!/usr/bin/env bash
# Issue 4 benchmark: status change -> receipt latency of webhook deliveries. orderd takes about
# RATE order creations a second (wrk, paced) for DURATION seconds; each creation's
# order.created event goes to SUBSCRIBERS subscriptions, all served by bench/webhook_latency_sink
# on 127.0.0.1 (one path per subscription). The sink measures receipt time minus the event's
# occurred_at (stamped when the change was applied, before its fsync), so the figure covers
# the fsync, the relay's wake-up, batching, signing and the HTTP round trip. After wrk stops,
# the script waits until every created order's event reached every subscriber, then prints
# events/s delivered, p50/p99/max latency overall and per subscriber. Loopback only.
#
#   bench/run_webhook_latency.sh              RATE=5000 DURATION=20 SUBSCRIBERS=4 BATCH_MAX=100
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-${ROOT}/build}"
ORDERD="${ORDERD:-${BUILD_DIR}/src/exe/orderd}"
ORDERCTL="${ORDERCTL:-${BUILD_DIR}/src/exe/orderctl}"
SINK="${BUILD_DIR}/bench/webhook_latency_sink"
RATE="${RATE:-5000}"
DURATION="${DURATION:-20}"
SUBSCRIBERS="${SUBSCRIBERS:-4}"
BATCH_MAX="${BATCH_MAX:-100}"
CONNECTIONS="${CONNECTIONS:-60}"
TARGET_P99_MS=50
# shellcheck source=bench/lib.sh
source "${ROOT}/bench/lib.sh"

WORK="$(mktemp -d /tmp/oc-webhook-bench.XXXXXX)"
export ORDERD_PID=""  # set by orderd_start (bench/lib.sh)
SINK_PID=""
cleanup() {
  local rc=$?
  orderd_stop || true
  [[ -n "${SINK_PID}" ]] && kill "${SINK_PID}" 2>/dev/null
  rm -rf "${WORK}"
  exit "${rc}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need wrk wrk
need curl curl
[[ -x "${SINK}" ]] || die "${SINK} not built; run scripts/build.sh"

"${SINK}" >"${WORK}/sink.out" 2>&1 &
SINK_PID=$!
for _ in $(seq 1 100); do grep -q '^listening ' "${WORK}/sink.out" && break; sleep 0.05; done
SINK_PORT="$(sed -n 's/^listening \([0-9]*\)$/\1/p' "${WORK}/sink.out")"
[[ -n "${SINK_PORT}" ]] || die "the sink did not start: $(cat "${WORK}/sink.out")"

orderd_start "${WORK}/orderd" --allow-private-webhooks
CHANNEL_KEY="$(orderd_key "${WORK}/orderd" channel douyin)"
ADMIN_KEY="$(orderd_key "${WORK}/orderd" admin)"
orderd_set_stock "${ADMIN_KEY}" AIR-PURIFIER-X1 1000000000000
for i in $(seq 1 "${SUBSCRIBERS}"); do
  status="$(curl -sS -o "${WORK}/sub.json" -w '%{http_code}' -X POST "${ORDERD_BASE}/v1/subscriptions" \
    -H "Authorization: Bearer ${ADMIN_KEY}" -H 'Content-Type: application/json' \
    --data-binary "{\"url\": \"http://127.0.0.1:${SINK_PORT}/s${i}\", \"events\": [\"order.created\"],
      \"secret\": \"bench-secret-0123456789abcdef\", \"max_per_minute\": 1000000, \"batch_max\": ${BATCH_MAX}}")"
  [[ "${status}" == "201" ]] || die "POST /v1/subscriptions answered ${status}: $(cat "${WORK}/sub.json")"
done

# Each connection waits PACE_MS and then ~2 ms for its answer: C / (PACE_MS + 2 ms) requests a
# second. The rate reached is measured and printed, not assumed.
PACE_MS=$((CONNECTIONS * 1000 / RATE - 2))
((PACE_MS >= 1)) || PACE_MS=1
log "wrk -t2 -c${CONNECTIONS} -d${DURATION}s (OC_PACE_MS=${PACE_MS}: about ${RATE} orders/s) -s bench/wrk/create_order.lua"
OC_PACE_MS="${PACE_MS}" wrk -t2 -c"${CONNECTIONS}" -d"${DURATION}s" --latency \
  -s "${ROOT}/bench/wrk/create_order.lua" "${ORDERD_BASE}" -- "${CHANNEL_KEY}" "$(date +%s)" >"${WORK}/wrk.txt" 2>&1 ||
  die "wrk failed: $(tail -5 "${WORK}/wrk.txt")"
SUMMARY="$(grep '^ocbench: requests=' "${WORK}/wrk.txt")"
CREATED="$(sed -n 's/.* created_201=\([0-9]*\).*/\1/p' <<<"${SUMMARY}")"
CREATE_RATE="$(sed -n 's/.* created_per_s=\([0-9.]*\).*/\1/p' <<<"${SUMMARY}")"
NON2XX="$(sed -n 's/.* non2xx=\([0-9]*\).*/\1/p' <<<"${SUMMARY}")"
[[ "${NON2XX}" == "0" ]] || die "orderd answered ${NON2XX} non-2xx: ${SUMMARY}"

# Wait (bounded) until every subscriber's queue is empty.
for _ in $(seq 1 600); do
  depth="$(curl -sS "${ORDERD_BASE}/metrics" | awk '/^ordercenter_webhook_queue_depth/ {s += $2} END {print s + 0}')"
  [[ "${depth}" == "0" ]] && break
  sleep 0.1
done
[[ "${depth}" == "0" ]] || die "deliveries did not drain: queue depth ${depth}"
orderd_stop || die "orderd did not stop cleanly"
kill -TERM "${SINK_PID}"
wait "${SINK_PID}" || true
SINK_PID=""
RESULT="$(tail -1 "${WORK}/sink.out")"
python3 - "${RESULT}" "${CREATED}" "${CREATE_RATE}" "${SUBSCRIBERS}" "${DURATION}" "${TARGET_P99_MS}" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
created, rate, subs, duration, target = int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
print(f"orders created (acknowledged): {created} ({rate:.0f}/s); events delivered: {r['events']} in {r['requests']} requests to {subs} subscribers")
if r["events"] < created * subs:
    print(f"NOT CLEAN: {created * subs - r['events']} events missing"); sys.exit(3)
print(f"status change -> receipt latency: p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.1f} ms (target p99 <= {target:.0f} ms: {'MET' if r['p99_ms'] <= target else 'NOT MET'})")
for path, s in sorted(r["per_subscriber"].items()):
    print(f"  {path}: {s['events']} events in {s['requests']} requests, p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms")
PY
