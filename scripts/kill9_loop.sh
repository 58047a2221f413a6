#!/usr/bin/env bash
# The long kill -9 run: kills batch_cleanup at random points of large cycles (archive table and
# archive file on), ITERATIONS times per backend (default 25), on SQLite and on a throwaway
# PostgreSQL server, and checks after every kill that no batch was half applied, that the next
# run finishes the job, and that the archive file matches the archive table.
#
#   scripts/kill9_loop.sh [ITERATIONS] [PORT]
set -euo pipefail
cd "$(dirname "$0")/.."
iterations=${1:-25}
port=${2:-${BATCH_CLEANUP_TEST_PG_PORT:-54335}}

scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2 --target integration_tests batch_cleanup_cli

pg_dir=$(mktemp -d /tmp/bc_kill9_pg_XXXXXX)
trap 'scripts/pg_test_server.sh stop "$pg_dir"' EXIT
BATCH_CLEANUP_TEST_PG_URL=$(scripts/pg_test_server.sh start "$pg_dir" "$port")
export BATCH_CLEANUP_TEST_PG_URL BATCH_CLEANUP_REQUIRE_PG=1
export BATCH_CLEANUP_KILL_ITERATIONS=$iterations
build/tests/integration_tests --gtest_filter='*Kill9Test*'
