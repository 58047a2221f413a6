#!/usr/bin/env bash
# Quick start: installs what is missing, builds, and runs the demo on an embedded SQLite
# database (no server needed). Extra arguments go to `batch_cleanup demo` (e.g. --rows 20000).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2 --target batch_cleanup_cli
exec build/batch_cleanup demo "$@"
