#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz/ and runs each for
# SECONDS (default 10: the CI-sized run; the long documented run is `scripts/fuzz.sh 600`).
# Crashes are written to build-fuzz/crashes/; the corpora persist in build-fuzz/corpus/.
#
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
scripts/install-deps.sh
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DBATCH_CLEANUP_BUILD_FUZZERS=ON -DBATCH_CLEANUP_BUILD_TESTS=OFF \
  -DBATCH_CLEANUP_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build-fuzz -j"${BATCH_CLEANUP_BUILD_JOBS:-2}" \
  --target database_url_fuzz duration_fuzz identifier_fuzz config_fuzz toml_config_fuzz
mkdir -p build-fuzz/crashes
for target in database_url_fuzz duration_fuzz identifier_fuzz config_fuzz toml_config_fuzz; do
  mkdir -p "build-fuzz/corpus/$target"
  echo "fuzzing $target for ${seconds}s"
  build-fuzz/fuzz/$target -max_total_time="$seconds" -max_len=512 -timeout=10 \
    -artifact_prefix="build-fuzz/crashes/$target-" -print_final_stats=1 \
    "build-fuzz/corpus/$target" 2>&1 | grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY)" || true
  if ls "build-fuzz/crashes/$target-"* >/dev/null 2>&1; then
    echo "$target: crash found (build-fuzz/crashes/)" >&2
    exit 1
  fi
done
echo "fuzzing finished: no crash"
