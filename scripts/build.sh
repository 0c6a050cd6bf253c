#!/usr/bin/env bash
# Configures (CMake + Ninja) and builds OrderCenter.
#
#   scripts/build.sh                       RelWithDebInfo build into build/
#   scripts/build.sh --sanitize            ASan + UBSan build into build-asan/ (no benchmarks)
#   scripts/build.sh --build-dir DIR       build into DIR (relative to the current directory)
#   scripts/build.sh --target orderd ...   build only the named target(s); repeatable
#   scripts/build.sh -- -DFOO=BAR          pass the rest to cmake at configure time
#
# Environment: CMAKE_BUILD_TYPE (default RelWithDebInfo), JOBS (default: nproc).
# It does not install packages; scripts/install-deps.sh does.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
  sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

sanitize=0
build_dir=""
targets=()
extra_cmake_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --sanitize) sanitize=1 ;;
    --build-dir)
      [[ $# -ge 2 ]] || { echo "build.sh: --build-dir needs a directory" >&2; exit 2; }
      build_dir="$2"
      shift
      ;;
    --build-dir=*) build_dir="${1#*=}" ;;
    --target)
      [[ $# -ge 2 ]] || { echo "build.sh: --target needs a target name" >&2; exit 2; }
      targets+=("$2")
      shift
      ;;
    -h | --help) usage; exit 0 ;;
    --)
      shift
      extra_cmake_args=("$@")
      break
      ;;
    *) echo "build.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

if [[ -z "${build_dir}" ]]; then
  if [[ "${sanitize}" -eq 1 ]]; then
    build_dir="${ROOT}/build-asan"
  else
    build_dir="${ROOT}/build"
  fi
fi
mkdir -p "${build_dir}"
build_dir="$(cd "${build_dir}" && pwd)"

# Every option is passed explicitly so a reused build directory never keeps a stale setting
# from an earlier, different configuration.
cmake_args=(
  -S "${ROOT}"
  -B "${build_dir}"
  -G Ninja
  -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}"
  -DORDERCENTER_BUILD_TESTS=ON
)
if [[ "${sanitize}" -eq 1 ]]; then
  cmake_args+=(-DORDERCENTER_SANITIZERS=ON -DORDERCENTER_BUILD_BENCHMARKS=OFF)
else
  cmake_args+=(-DORDERCENTER_SANITIZERS=OFF -DORDERCENTER_BUILD_BENCHMARKS=ON)
fi
cmake_args+=("${extra_cmake_args[@]}")

# A directory configured with another generator cannot be switched to Ninja in place.
cache="${build_dir}/CMakeCache.txt"
if [[ -f "${cache}" ]] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "${cache}"; then
  echo "build.sh: ${build_dir} was configured with another generator; remove it and rerun" >&2
  exit 1
fi

jobs="${JOBS:-$(nproc)}"
variant="$([[ "${sanitize}" -eq 1 ]] && echo "sanitizers" || echo "normal")"
echo "build.sh: configuring ${variant} build in ${build_dir}"
cmake "${cmake_args[@]}"

echo "build.sh: building with ${jobs} job(s)${targets[*]:+ (targets: ${targets[*]})}"
ninja -C "${build_dir}" -j "${jobs}" "${targets[@]}"
echo "build.sh: build finished in ${build_dir}"
