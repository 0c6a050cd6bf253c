#!/usr/bin/env bash
# Installs every Debian 12 package OrderCenter needs to build, test, benchmark and run.
#
# Idempotent and fast when nothing is missing: each package is checked with dpkg-query, and
# apt-get (update + install) runs only for the ones that are not installed yet.
# Runs as root, or through sudo for any other user.
#
#   scripts/install-deps.sh              install what is missing
#   scripts/install-deps.sh --list       print the package list and exit
#   SKIP_INSTALL_DEPS=1 scripts/...      skip entirely (you manage packages yourself)
set -euo pipefail

# ---------------------------------------------------------------------------------------------
# The one list of packages. Append new dependencies here, one per line, with a short comment.
# ---------------------------------------------------------------------------------------------
PACKAGES=(
  # Toolchain
  build-essential
  g++
  cmake
  ninja-build
  pkg-config
  git
  ca-certificates
  # Libraries (see DESIGN.md "Chosen dependencies")
  libboost1.81-dev          # Beast/Asio (HTTP server and client)
  libboost-json1.81-dev     # Boost.JSON
  libboost-url1.81-dev      # Boost.URL
  libsqlite3-dev            # embedded default store
  libpq-dev                 # PostgreSQL store
  libssl-dev                # AES-256-GCM, HMAC, SHA-256
  libspdlog-dev
  libfmt-dev
  libcli11-dev              # orderd / orderctl command lines
  zlib1g-dev                # compressed batch pushes
  libjemalloc-dev           # orderd's allocator (cross-thread alloc/free on the order path)
  clang-format              # .clang-format is the style
  # Tests and benchmarks
  libgtest-dev
  libgmock-dev
  googletest
  libbenchmark-dev
  # Servers and tools used by tests, benchmarks and scripts
  sqlite3
  postgresql-15             # real PostgreSQL for store tests and benchmarks
  redis-server              # peer in the inventory benchmark (Lua check-and-decrement)
  redis-tools               # redis-benchmark, redis-cli
  wrk                       # HTTP load generator for benchmarks
  curl
  python3                   # scripts parse orderctl's JSON output
  procps                    # ps, pgrep, kill for tests and scripts
  openssl                   # tests make a throwaway CA and certificate for https webhooks
)

if [[ "${1:-}" == "--list" ]]; then
  printf '%s\n' "${PACKAGES[@]}"
  exit 0
fi

if [[ "${SKIP_INSTALL_DEPS:-0}" == "1" ]]; then
  echo "install-deps: SKIP_INSTALL_DEPS=1, not checking packages"
  exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: this script needs Debian 12 (dpkg + apt-get)." >&2
  echo "install-deps: install the equivalents of these packages yourself, then rerun with" >&2
  echo "install-deps: SKIP_INSTALL_DEPS=1:" >&2
  printf '  %s\n' "${PACKAGES[@]}" >&2
  exit 1
fi

is_installed() {
  local status
  status="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)"
  [[ "${status}" == "install ok installed" || "${status}" == "hold ok installed" ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! is_installed "${pkg}"; then
    missing+=("${pkg}")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

echo "install-deps: installing ${#missing[@]} missing package(s): ${missing[*]}"

as_root=()
if [[ "$(id -u)" -ne 0 ]]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-deps: not root and sudo is not installed; run this script as root" >&2
    exit 1
  fi
  as_root=(sudo)
fi

# sudo resets the environment, so pass the frontend setting through env(1).
apt=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300)

# Retry a few times: a fresh CI machine occasionally hits a transient mirror error.
attempts_max=3
for attempt in $(seq 1 "${attempts_max}"); do
  if "${apt[@]}" update -q && \
     "${apt[@]}" install -y -q --no-install-recommends "${missing[@]}" </dev/null; then
    break
  fi
  if [[ "${attempt}" -eq "${attempts_max}" ]]; then
    echo "install-deps: apt-get failed ${attempts_max} times" >&2
    exit 1
  fi
  echo "install-deps: apt-get failed (attempt ${attempt}/${attempts_max}); retrying in 10 s" >&2
  sleep 10
done

still_missing=()
for pkg in "${missing[@]}"; do
  if ! is_installed "${pkg}"; then
    still_missing+=("${pkg}")
  fi
done
if [[ ${#still_missing[@]} -ne 0 ]]; then
  echo "install-deps: still not installed: ${still_missing[*]}" >&2
  exit 1
fi
echo "install-deps: done"
