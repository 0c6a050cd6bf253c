#!/usr/bin/env bash
# Shared helpers for the bench/ scripts: logging, tool checks, free loopback ports, orderd and a
# throwaway PostgreSQL 15 started as DESIGN.md's "Real servers" section says, wrk summaries and
# a process's CPU. Source it; it defines functions only. Callers set PG_BIN and stop what they
# start (pg_stop, orderd_stop).

log() { echo "bench: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

need() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' not found; run scripts/install-deps.sh (package: $2)"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# initdb refuses root: as root, PostgreSQL commands run as the postgres user.
as_postgres() {
  if [[ "$(id -u)" == "0" ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# pg_start DIR MAX_CONNECTIONS: initdb in DIR/data and start on a free loopback port with
# synchronous_commit=on and fsync=on. Sets PG_PORT and PG_DATA. DIR's parent must be
# traversable by the postgres user.
pg_start() {
  local dir="$1" max_conn="$2"
  [[ -x "${PG_BIN}/initdb" && -x "${PG_BIN}/pg_ctl" && -x "${PG_BIN}/psql" ]] ||
    die "PostgreSQL 15 binaries not found in ${PG_BIN}; run scripts/install-deps.sh (package: postgresql-15)"
  if [[ "$(id -u)" == "0" ]]; then
    need runuser util-linux
    id postgres >/dev/null 2>&1 || die "no 'postgres' user (installed with postgresql-15)"
  fi
  mkdir -p "${dir}"
  [[ "$(id -u)" == "0" ]] && chown postgres "${dir}"
  PG_DATA="${dir}/data"
  as_postgres "${PG_BIN}/initdb" -D "${PG_DATA}" -A trust -U postgres >"${dir}/initdb.log" 2>&1 ||
    die "initdb failed: $(tail -5 "${dir}/initdb.log")"
  PG_PORT="$(free_port)"
  ((max_conn < 100)) && max_conn=100
  log "starting PostgreSQL 15 on 127.0.0.1:${PG_PORT} (synchronous_commit=on, fsync=on) in ${PG_DATA}"
  as_postgres "${PG_BIN}/pg_ctl" -D "${PG_DATA}" -l "${dir}/log" -w -t 60 \
    -o "-p ${PG_PORT} -k ${dir} -c listen_addresses=127.0.0.1 -c synchronous_commit=on -c fsync=on -c max_connections=${max_conn}" \
    start >/dev/null || die "pg_ctl start failed: $(tail -5 "${dir}/log" 2>/dev/null)"
}

pg_stop() {
  [[ -n "${PG_DATA:-}" ]] || return 0
  as_postgres "${PG_BIN}/pg_ctl" -D "${PG_DATA}" -m immediate -w stop >/dev/null 2>&1 || true
}

# orderd_start DIR [ARG...]: starts ${ORDERD} (with the extra ARGs) on a free loopback port with
# data in DIR/data and its output in DIR/orderd.log; waits up to ${STARTUP_TIMEOUT_S:-30}s for
# its "listening on" line.
# Sets ORDERD_PID and ORDERD_BASE (http://127.0.0.1:PORT). The caller stops it (orderd_stop).
orderd_start() {
  local dir="$1" timeout="${STARTUP_TIMEOUT_S:-30}"
  shift
  [[ -x "${ORDERD}" ]] || die "no orderd at ${ORDERD}; build first: scripts/build.sh (or set BUILD_DIR / ORDERD)"
  mkdir -p "${dir}/data"
  log "starting ${ORDERD} --data-dir ${dir}/data --listen 127.0.0.1:0 $*"
  : >"${dir}/orderd.log"  # exists before the poll below reads it
  "${ORDERD}" --data-dir "${dir}/data" --listen 127.0.0.1:0 "$@" >>"${dir}/orderd.log" 2>&1 &
  ORDERD_PID=$!
  local port="" waited=0
  while [[ -z "${port}" ]]; do
    port="$(sed -n 's#.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*#\1#p' "${dir}/orderd.log" | head -1 || true)"
    [[ -n "${port}" ]] && break
    if ! kill -0 "${ORDERD_PID}" 2>/dev/null; then
      local rc=0
      wait "${ORDERD_PID}" || rc=$?
      ORDERD_PID=""
      log "orderd output:"
      sed 's/^/  | /' "${dir}/orderd.log" >&2
      die "orderd exited with status ${rc} before printing 'listening on http://127.0.0.1:PORT'"
    fi
    ((waited < timeout * 10)) || die "orderd printed no 'listening on' line within ${timeout}s (log: ${dir}/orderd.log)"
    sleep 0.1
    waited=$((waited + 1))
  done
  ORDERD_BASE="http://127.0.0.1:${port}"
  log "orderd pid ${ORDERD_PID} listening on ${ORDERD_BASE}"
}

# orderd_key DIR ROLE [CHANNEL]: prints a new API key made with ${ORDERCTL} for orderd's data dir.
orderd_key() {
  local dir="$1" role="$2" channel="${3:-}" json
  local args=(--data-dir "${dir}/data" keys create --role "${role}" --name "bench-${role}")
  [[ -n "${channel}" ]] && args+=(--channel "${channel}")
  [[ -x "${ORDERCTL}" ]] || die "no orderctl at ${ORDERCTL}; build first: scripts/build.sh (or set BUILD_DIR / ORDERCTL)"
  json="$("${ORDERCTL}" "${args[@]}" 2>&1)" || die "orderctl keys create failed: ${json}"
  python3 -c 'import json, sys; print(json.loads(sys.stdin.read())["key"])' <<<"${json}" 2>/dev/null ||
    die "orderctl keys create printed no JSON with a \"key\": ${json}"
}

# orderd_set_stock ADMIN_KEY SKU ON_HAND: PUT /v1/inventory/SKU on the running orderd.
orderd_set_stock() {
  local key="$1" sku="$2" on_hand="$3" status out
  out="$(mktemp)"
  status="$(curl -sS -o "${out}" -w '%{http_code}' -X PUT "${ORDERD_BASE}/v1/inventory/${sku}" \
    -H "Authorization: Bearer ${key}" -H 'Content-Type: application/json' \
    --data-binary "{\"on_hand\": ${on_hand}, \"safety_buffer\": 0}")" || die "PUT /v1/inventory/${sku} failed (curl)"
  [[ "${status}" == "200" ]] || die "PUT /v1/inventory/${sku} answered ${status}, want 200: $(head -c 600 "${out}")"
  rm -f "${out}"
}

# orderd_fsyncs: the running orderd's WAL fsync counter (from /metrics).
orderd_fsyncs() {
  curl -sS "${ORDERD_BASE}/metrics" | sed -n 's/^ordercenter_store_fsyncs_total \([0-9]*\)$/\1/p'
}

# orderd_stop: SIGTERM, wait up to ${SHUTDOWN_TIMEOUT_S:-60}s for the drain, then SIGKILL.
# Returns 0 only for a clean exit 0 within the time.
# field NAME SUMMARY: the value of NAME=... in a wrk script's "ocbench: ..." summary line.
field() { sed -n "s/.*[ :]$1=\([^ ]*\).*/\1/p" <<<"$2" | head -1; }

# clean_or_die SUMMARY: a bench/wrk/reserve.lua summary with no failures (count mode: no answer
# but 201 or 409; lean mode: no answer of 400 or more) and no socket errors.
clean_or_die() {
  local failures
  failures="$(field other "$1")$(field not_2xx "$1")"
  [[ "${failures}" == "0" && "$(field socket_errors "$1")" == "0" ]] ||
    die "(b) not clean (failures or socket errors): $1"
}

# server_cpu PID: the process's user and system seconds so far, from /proc, as "user sys".
server_cpu() {
  awk -v t="$(getconf CLK_TCK)" '{printf "%.2f %.2f\n", $14 / t, $15 / t}' "/proc/$1/stat"
}

orderd_stop() {
  [[ -n "${ORDERD_PID:-}" ]] || return 0
  local rc=0 i timeout="${SHUTDOWN_TIMEOUT_S:-60}"
  kill -TERM "${ORDERD_PID}" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    kill -0 "${ORDERD_PID}" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "${ORDERD_PID}" 2>/dev/null; then
    log "orderd did not exit within ${timeout}s of SIGTERM; killing it"
    kill -KILL "${ORDERD_PID}" 2>/dev/null || true
    rc=124
  fi
  local exit_status=0
  wait "${ORDERD_PID}" || exit_status=$?
  ORDERD_PID=""
  ((rc == 0)) && rc=${exit_status}
  ((rc == 0)) || log "orderd stopped with status ${rc} (want 0)"
  return "${rc}"
}
