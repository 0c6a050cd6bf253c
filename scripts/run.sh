#!/usr/bin/env bash
# Quick start: installs what is missing, builds orderd and orderctl, loads the demo data set on
# first use, creates an admin API key, and runs orderd in the foreground on the embedded
# default (SQLite in the data directory). Ctrl-C or SIGTERM stops it.
#
#   scripts/run.sh [-- extra orderd arguments]
#
# Environment:
#   ORDERCENTER_DATA_DIR  data directory (default: demo-data/ in the repository)
#   PORT                  port on 127.0.0.1 (default 8080)
#   BUILD_DIR             build directory (default: build/ in the repository)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [[ "${1:-}" == "--" ]]; then
  shift
fi

port="${PORT:-8080}"
if ! [[ "${port}" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
  echo "run.sh: PORT must be a number from 1 to 65535, got '${port}'" >&2
  exit 2
fi

build_dir="${BUILD_DIR:-${ROOT}/build}"
data_dir="${ORDERCENTER_DATA_DIR:-${ROOT}/demo-data}"

bash "${ROOT}/scripts/install-deps.sh"
# Only the two executables: the quick start does not need the tests or benchmarks built.
bash "${ROOT}/scripts/build.sh" --build-dir "${build_dir}" --target orderd --target orderctl
build_dir="$(cd "${build_dir}" && pwd)"

orderd="${build_dir}/src/exe/orderd"
orderctl="${build_dir}/src/exe/orderctl"
for exe in "${orderd}" "${orderctl}"; do
  if [[ ! -x "${exe}" ]]; then
    echo "run.sh: expected ${exe} after the build, but it is not there" >&2
    exit 1
  fi
done

# The data directory holds the database and keys: a new one is private to this user.
if [[ ! -d "${data_dir}" ]]; then
  (umask 077 && mkdir -p "${data_dir}")
fi
data_dir="$(cd "${data_dir}" && pwd)"

if [[ ! -e "${data_dir}/ordercenter.db" ]]; then
  echo "run.sh: loading the demo data set into ${data_dir}"
  if ! "${orderctl}" --data-dir "${data_dir}" demo; then
    echo "run.sh: 'orderctl demo' failed; remove ${data_dir} before trying again" >&2
    exit 1
  fi
else
  echo "run.sh: using the existing database in ${data_dir}"
fi

# A fresh admin key each run; the file holds the full JSON (key and TOTP secret for step-up).
key_file="${data_dir}/admin-key.json"
key_json="$("${orderctl}" --data-dir "${data_dir}" keys create --role admin --name quickstart)"
admin_key="$(python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])' <<<"${key_json}")"
rm -f "${key_file}"
(
  umask 077
  printf '%s\n' "${key_json}" >"${key_file}"
)
chmod 600 "${key_file}"

url="http://127.0.0.1:${port}/"
cat <<EOF

  OrderCenter
  -----------
  Dashboard:  ${url}
  Admin key:  ${admin_key}
              (saved with its TOTP secret in ${key_file})
  Data dir:   ${data_dir}

  Try:  curl -H "Authorization: Bearer ${admin_key}" "${url}v1/orders?limit=5"

  Starting orderd in the foreground; press Ctrl-C to stop it.

EOF

exec "${orderd}" --data-dir "${data_dir}" --listen "127.0.0.1:${port}" "$@"
