#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, starts a throwaway PostgreSQL server
# on 127.0.0.1, runs every tier with ctest (unit, SQLite + PostgreSQL integration, CLI,
# package), and stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2

pg_dir=$(mktemp -d /tmp/bc_pg_XXXXXX)
port=${BATCH_CLEANUP_TEST_PG_PORT:-54329}
# The tests' servers, proxies and poolers listen on ports from $port up to 54399, inside Linux's
# ephemeral range (32768-60999): an outgoing connection that happens to take one of them makes
# a later bind fail with "Address already in use". As root, keep the kernel from handing them
# out (ip_local_reserved_ports only affects automatic port choice, never an explicit bind).
reserved=/proc/sys/net/ipv4/ip_local_reserved_ports
if [ -w "$reserved" ] && [ "$port" -ge 32768 ] && [ "$port" -le 54399 ]; then
  current=$(cat "$reserved")
  want="$port-54399"
  case ",$current," in
    *",$want,"*) ;;
    *) echo "${current:+$current,}$want" >"$reserved" ;;
  esac
fi
cleanup() { scripts/pg_test_server.sh stop "$pg_dir"; }
trap cleanup EXIT
BATCH_CLEANUP_TEST_PG_URL=$(scripts/pg_test_server.sh start "$pg_dir" "$port")
export BATCH_CLEANUP_TEST_PG_URL
export BATCH_CLEANUP_TEST_PG_DIR=$pg_dir
export BATCH_CLEANUP_REQUIRE_PG=1
export BATCH_CLEANUP_REQUIRE_CHROMIUM=1
echo "PostgreSQL test server: $BATCH_CLEANUP_TEST_PG_URL"

ctest --test-dir build --output-on-failure -j2 --timeout 600 "$@"
