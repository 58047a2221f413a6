#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-asan/ (the build
# scripts/sanitize.sh runs the tests of) and runs each for SECONDS (default 10: the CI-sized run;
# the long documented run is `scripts/fuzz.sh 600`). Crashes are written to build-asan/crashes/;
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
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=${BATCH_CLEANUP_SANITIZE_OPT:--O0} -gline-tables-only" -DBATCH_CLEANUP_BUILD_TESTS=ON \
  -DBATCH_CLEANUP_SANITIZE=address -DBATCH_CLEANUP_BUILD_FUZZERS=ON >/dev/null
cmake --build build-asan -j"${BATCH_CLEANUP_BUILD_JOBS:-2}" \
  --target database_url_fuzz secret_redaction_fuzz duration_fuzz identifier_fuzz config_fuzz condition_fuzz toml_config_fuzz
mkdir -p build-asan/crashes
for target in database_url_fuzz secret_redaction_fuzz duration_fuzz identifier_fuzz config_fuzz condition_fuzz toml_config_fuzz; do
  mkdir -p "build-asan/corpus/$target"
  echo "fuzzing $target for ${seconds}s"
  build-asan/fuzz/$target -max_total_time="$seconds" -max_len=512 -timeout=10 \
    -artifact_prefix="build-asan/crashes/$target-" -print_final_stats=1 \
    "build-asan/corpus/$target" 2>&1 | grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY)" || true
  if ls "build-asan/crashes/$target-"* >/dev/null 2>&1; then
    echo "$target: crash found (build-asan/crashes/)" >&2
    exit 1
  fi
done
echo "fuzzing finished: no crash"
