#!/usr/bin/env bash
# clang-tidy-14 over src/ with the curated checks of .clang-tidy (warnings are errors). Uses the
# compile commands of build/ (configured by scripts/test.sh); configures it when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if [ ! -f build/compile_commands.json ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
# The one generated header (version.h) is written when CMake configures build/: nothing to
# build, so this can run beside a build or a test run in the same folder.
# GCC's own warning flags in the compile commands are unknown to clang: not an error here.
run-clang-tidy-14 -p build -quiet -j"${BATCH_CLEANUP_BUILD_JOBS:-2}" \
  -extra-arg=-Wno-unknown-warning-option "$(pwd)/src/"
echo "clang-tidy: no findings"
