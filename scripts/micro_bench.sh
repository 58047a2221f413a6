#!/usr/bin/env bash
# The client-side micro-benchmarks (bench/micro/micro_bench.cc, Google Benchmark) in the Release
# build: writes bench/results/micro.json and prints the table.
#
#   scripts/micro_bench.sh                  # 3 repetitions, medians
#   scripts/micro_bench.sh --benchmark_filter=Archive
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBATCH_CLEANUP_BUILD_BENCHMARKS=ON >/dev/null
cmake --build build -j2 --target micro_bench
build/bench/micro/micro_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_out=bench/results/micro.json --benchmark_out_format=json "$@"
