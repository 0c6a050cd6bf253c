#!/usr/bin/env bash
# Shared helpers for the bench/ scripts: logging, tool checks, free loopback ports, and a
# throwaway PostgreSQL 15 started as DESIGN.md's "Real servers" section says. Source it; it
# defines functions only. Callers set PG_BIN and stop what they start (pg_stop).

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
