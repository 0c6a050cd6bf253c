#!/usr/bin/env bash
# A/B of two orderd binaries on the checkout-hold path: orderd's CPU (user + system, from /proc)
# per successful hold, and holds per second, over PAIRS alternating runs (A, B, A, B, ...) of
# lean wrk clients against one hot SKU (bench/wrk/reserve.lua). Each run starts a fresh orderd
# on a free loopback port with its own data directory.
#
#   bench/ab_hold_cpu.sh A_ORDERD B_ORDERD     PAIRS=4 DURATION=6 CONNECTIONS=512
#   A_ENV="..." B_ENV="..."                    extra environment for either side's orderd
#
# Why CPU per hold: on these shared 2-core hosts throughput drifts by ±10% from minute to
# minute, and a change of a few percent is lost in it; the CPU orderd spends per hold moves far
# less. Alternating runs put both sides through the same drift. The medians are printed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-${ROOT}/build}"
ORDERCTL="${ORDERCTL:-${BUILD_DIR}/src/exe/orderctl}"  # unless one sits beside each orderd
PAIRS="${PAIRS:-4}"
DURATION="${DURATION:-6}"
CONNECTIONS="${CONNECTIONS:-512}"
# shellcheck source=bench/lib.sh
source "${ROOT}/bench/lib.sh"

(($# == 2)) || die "usage: bench/ab_hold_cpu.sh A_ORDERD B_ORDERD (see the header)"
[[ "${PAIRS}" =~ ^[1-9][0-9]*$ ]] || die "PAIRS must be a positive whole number, not '${PAIRS}'"
for bin in "$1" "$2"; do [[ -x "${bin}" ]] || die "not an executable: ${bin}"; done
need wrk wrk
need curl curl

WORK="$(mktemp -d /tmp/oc-ab-hold.XXXXXX)"
ORDERD_PID=""
cleanup() {
  local rc=$?
  orderd_stop || true
  rm -rf "${WORK}"
  exit "${rc}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# one_run ORDERD ENV LABEL: prints "cpu_us_per_hold holds_per_s". ENV: NAME=VALUE words, given
# to that orderd alone (through a wrapper that execs it, so the pid measured is orderd's).
one_run() {
  local bin="$1" label="$3" dir="${WORK}/${3}" word
  local -a env_words=()
  read -r -a env_words <<<"$2"
  for word in "${env_words[@]}"; do
    [[ "${word}" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "not NAME=VALUE: '${word}'"
  done
  mkdir -p "${dir}"
  local wrapper="${dir}/orderd"
  {
    echo '#!/usr/bin/env bash'
    printf 'exec env'
    printf ' %q' "${env_words[@]}" "${bin}"
    echo ' "$@"'
  } >"${wrapper}"
  chmod +x "${wrapper}"
  # Keys come from the orderctl built beside that orderd: it migrates the database it opens.
  local ctl="${ORDERCTL}"
  [[ -x "$(dirname "${bin}")/orderctl" ]] && ctl="$(dirname "${bin}")/orderctl"
  ORDERD="${wrapper}" orderd_start "${dir}"
  local key admin
  key="$(ORDERCTL="${ctl}" orderd_key "${dir}" channel douyin)"
  admin="$(ORDERCTL="${ctl}" orderd_key "${dir}" admin)"
  orderd_set_stock "${admin}" HOT 1000000000000
  local before after summary
  before="$(server_cpu "${ORDERD_PID}")"
  wrk -t2 -c"${CONNECTIONS}" -d"${DURATION}s" --timeout 10s -s "${ROOT}/bench/wrk/reserve.lua" \
    "${ORDERD_BASE}" -- "${key}" HOT lean >"${dir}/wrk.txt" 2>&1 || die "wrk failed ($label)"
  after="$(server_cpu "${ORDERD_PID}")"
  orderd_stop || die "orderd did not stop cleanly (${label}): $(tail -3 "${dir}/orderd.log")"
  summary="$(grep '^ocbench: mode=lean ' "${dir}/wrk.txt")" ||
    die "wrk printed no summary (${label}): $(tail -3 "${dir}/wrk.txt")"
  clean_or_die "${summary}"
  local held
  held="$(field held_2xx "${summary}")"
  ((held > 0)) || die "no successful holds (${label}): ${summary}"
  # shellcheck disable=SC2086  # "user sys" pairs, split on purpose
  python3 -c 'import sys
u0, s0, u1, s1, held, rate = map(float, sys.argv[1:])
print(f"{(u1 + s1 - u0 - s0) * 1e6 / held:.2f} {rate:.0f}")' ${before} ${after} "${held}" \
    "$(field held_per_s "${summary}")"
}

A_CPU=() B_CPU=() A_RATE=() B_RATE=()
for pair in $(seq 1 "${PAIRS}"); do
  # Through a file, not a pipe: one_run must run in this shell, whose exit trap stops orderd.
  one_run "$1" "${A_ENV:-}" "a-${pair}" >"${WORK}/result"
  read -r cpu rate <"${WORK}/result"
  A_CPU+=("${cpu}") A_RATE+=("${rate}")
  one_run "$2" "${B_ENV:-}" "b-${pair}" >"${WORK}/result"
  read -r cpu rate <"${WORK}/result"
  B_CPU+=("${cpu}") B_RATE+=("${rate}")
  log "pair ${pair}: A ${A_CPU[-1]} µs/hold ${A_RATE[-1]}/s; B ${B_CPU[-1]} µs/hold ${B_RATE[-1]}/s"
done
python3 - "${A_CPU[*]}" "${B_CPU[*]}" "${A_RATE[*]}" "${B_RATE[*]}" "$1" "$2" <<'PY'
import statistics as st, sys
a, b, ra, rb = ([float(x) for x in s.split()] for s in sys.argv[1:5])
print(f"A {sys.argv[5]}: orderd CPU per hold {st.median(a):.2f} µs {a}, {st.median(ra):.0f} holds/s")
print(f"B {sys.argv[6]}: orderd CPU per hold {st.median(b):.2f} µs {b}, {st.median(rb):.0f} holds/s")
print(f"B/A: CPU per hold {st.median(b) / st.median(a):.3f}, holds/s {st.median(rb) / st.median(ra):.3f}")
PY
