#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test — twice: a normal RelWithDebInfo build
# (all ctest labels: unit, integration, slow), then an AddressSanitizer + UBSan build
# (benchmarks left out). Exits non-zero if any step fails, after a summary of all steps.
#
#   scripts/test.sh
#   SKIP_SANITIZERS=1 scripts/test.sh      quick local loop: normal pass only
#   FAIL_FAST=1 scripts/test.sh            stop at the first failing step
#
# Environment: BUILD_DIR (default build/), ASAN_BUILD_DIR (default build-asan/),
# CTEST_JOBS (tests run in parallel; default: nproc), JOBS (compile jobs; default: nproc),
# CTEST_ARGS (extra ctest arguments for both passes, e.g. "-L unit").
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

build_dir="${BUILD_DIR:-${ROOT}/build}"
asan_build_dir="${ASAN_BUILD_DIR:-${ROOT}/build-asan}"
ctest_jobs="${CTEST_JOBS:-$(nproc)}"
read -r -a ctest_extra <<<"${CTEST_ARGS:-}"

step_names=()
step_results=()
failed=0
start_all=${SECONDS}

# run_step NAME COMMAND... — runs the command, records PASS/FAIL and how long it took.
run_step() {
  local name="$1"
  shift
  local start=${SECONDS}
  echo
  echo "==> ${name}"
  local rc=0
  "$@" || rc=$?
  local took=$((SECONDS - start))
  step_names+=("${name}")
  if [[ ${rc} -eq 0 ]]; then
    step_results+=("PASS  ${took}s")
  else
    step_results+=("FAIL  ${took}s (exit ${rc})")
    failed=1
  fi
  return "${rc}"
}

skip_step() {
  step_names+=("$1")
  step_results+=("SKIP  ($2)")
}

summary() {
  echo
  echo "==================== OrderCenter test summary ===================="
  local i
  for i in "${!step_names[@]}"; do
    printf '  %-40s %s\n' "${step_names[$i]}" "${step_results[$i]}"
  done
  echo "  total time: $((SECONDS - start_all))s"
  if [[ ${failed} -eq 0 ]]; then
    echo "  RESULT: ALL PASSED"
  else
    echo "  RESULT: FAILED"
  fi
  echo "=================================================================="
}

finish() {
  summary
  exit "${failed}"
}

# Stops at a failure when FAIL_FAST=1; otherwise the remaining steps still run.
after_failure() {
  if [[ "${FAIL_FAST:-0}" == "1" ]]; then
    finish
  fi
}

# Called through run_step, which shellcheck cannot see.
# shellcheck disable=SC2317
run_ctest() {
  local dir="$1"
  shift
  ctest --test-dir "${dir}" --output-on-failure --no-tests=error -j "${ctest_jobs}" \
    --output-junit "${dir}/ctest-junit.xml" "$@" "${ctest_extra[@]}"
}

# Without the packages nothing else can run, so this one always stops the script.
run_step "install dependencies" bash "${ROOT}/scripts/install-deps.sh" || finish

# Pass 1: normal build, every label.
normal_build_ok=0
if run_step "build (normal)" bash "${ROOT}/scripts/build.sh" --build-dir "${build_dir}"; then
  normal_build_ok=1
  run_step "ctest (normal, all labels)" run_ctest "${build_dir}" || after_failure
else
  skip_step "ctest (normal, all labels)" "build failed"
  after_failure
fi

# Pass 2: sanitizers. Leaks, memory errors and undefined behaviour all abort the test.
if [[ "${SKIP_SANITIZERS:-0}" == "1" ]]; then
  skip_step "build (sanitizers)" "SKIP_SANITIZERS=1"
  skip_step "ctest (sanitizers)" "SKIP_SANITIZERS=1"
elif [[ ${normal_build_ok} -eq 0 ]]; then
  # The same sources would fail again, only slower; the summary already says FAILED.
  skip_step "build (sanitizers)" "normal build failed"
  skip_step "ctest (sanitizers)" "normal build failed"
elif run_step "build (sanitizers)" \
    bash "${ROOT}/scripts/build.sh" --sanitize --build-dir "${asan_build_dir}"; then
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  # Benchmarks are not built here; the label filter also keeps out any benchmark smoke test.
  run_step "ctest (sanitizers)" run_ctest "${asan_build_dir}" --label-exclude '^bench' ||
    after_failure
else
  skip_step "ctest (sanitizers)" "build failed"
fi

finish
