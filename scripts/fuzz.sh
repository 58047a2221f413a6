#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-asan/ (the build
# scripts/sanitize.sh runs the tests of) and runs each for SECONDS (default 10: the CI-sized run;
# the long documented run is `scripts/fuzz.sh 600`), one per core at a time
# (BATCH_CLEANUP_BUILD_JOBS, default 2). Crashes are written to build-asan/crashes/;
# the corpora persist in build-asan/corpus/.
#
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
scripts/install-deps.sh
# The same configuration as scripts/sanitize.sh, so the library is built once for both
# (unoptimised by default; BATCH_CLEANUP_SANITIZE_OPT=-O1 runs more inputs per second in a long
# session, at a full rebuild of build-asan/ when the setting changes).
targets=(database_url_fuzz secret_redaction_fuzz duration_fuzz identifier_fuzz config_fuzz condition_fuzz
         toml_config_fuzz)
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=${BATCH_CLEANUP_SANITIZE_OPT:--O0} -gline-tables-only" -DBATCH_CLEANUP_BUILD_TESTS=ON \
  -DBATCH_CLEANUP_SANITIZE=address -DBATCH_CLEANUP_BUILD_FUZZERS=ON >/dev/null
cmake --build build-asan -j"${BATCH_CLEANUP_BUILD_JOBS:-2}" --target "${targets[@]}"
# BATCH_CLEANUP_FUZZ_PHASE=build only builds them (.ci/run builds them beside other work).
if [ "${BATCH_CLEANUP_FUZZ_PHASE:-all}" = build ]; then exit 0; fi
mkdir -p build-asan/crashes build-asan/fuzz-logs
# One fuzzer per core at a time (each is single-threaded); each one's summary is printed when
# it ends.
fuzz_one() {
  local target=$1
  mkdir -p "build-asan/corpus/$target"
  build-asan/fuzz/$target -max_total_time="$seconds" -max_len=512 -timeout=10 \
    -artifact_prefix="build-asan/crashes/$target-" -print_final_stats=1 \
    "build-asan/corpus/$target" >"build-asan/fuzz-logs/$target.log" 2>&1 || true
  echo "fuzzed $target for ${seconds}s"
  grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY)" \
    "build-asan/fuzz-logs/$target.log" || true
}
running=0
for target in "${targets[@]}"; do
  if [ "$running" -ge "${BATCH_CLEANUP_BUILD_JOBS:-2}" ]; then
    wait -n
    running=$((running - 1))
  fi
  fuzz_one "$target" &
  running=$((running + 1))
done
wait
for target in "${targets[@]}"; do
  if ls "build-asan/crashes/$target-"* >/dev/null 2>&1; then
    echo "$target: crash found (build-asan/crashes/, log in build-asan/fuzz-logs/)" >&2
    exit 1
  fi
done
echo "fuzzing finished: no crash"
