#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, starts a throwaway PostgreSQL server
# a throwaway MariaDB server and a throwaway 3-node MariaDB Galera cluster on 127.0.0.1, runs
# every tier with ctest (unit, SQLite + PostgreSQL + MariaDB + Galera integration, CLI, package),
# and stops them.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
# Configured once (a later change to a CMakeLists.txt reconfigures it from the build itself), so
# that clang-tidy can read build/compile_commands.json beside this run (.ci/run).
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi

pg_dir=$(mktemp -d /tmp/bc_pg_XXXXXX)
port=${BATCH_CLEANUP_TEST_PG_PORT:-54329}
# The tests' servers, proxies and poolers listen on ports from $port up to 54399 (and the
# MariaDB server on 54400, its tests' own servers and proxies up to 54460), inside Linux's
# ephemeral range (32768-60999): an outgoing connection that happens to take one of them makes a
# later bind fail with "Address already in use". As root, keep the kernel from handing them out (ip_local_reserved_ports only affects
# automatic port choice, never an explicit bind).
# The Galera cluster's nodes listen on $galera_port+1 up to $galera_port+39 (client, group
# communication, IST and snapshot-transfer ports).
galera_port=${BATCH_CLEANUP_TEST_GALERA_PORT:-54500}
reserved=/proc/sys/net/ipv4/ip_local_reserved_ports
reserve() {
  local want=$1 current
  [ -w "$reserved" ] || return 0
  current=$(cat "$reserved")
  case ",$current," in
    *",$want,"*) ;;
    *) echo "${current:+$current,}$want" >"$reserved" ;;
  esac
}
if [ "$port" -ge 32768 ] && [ "$port" -le 54399 ]; then reserve "$port-54460"; fi
if [ "$galera_port" -ge 32768 ]; then reserve "$galera_port-$((galera_port + 39))"; fi
mariadb_dir=$(mktemp -d /tmp/bc_mariadb_XXXXXX)
mariadb_port=${BATCH_CLEANUP_TEST_MARIADB_PORT:-54400}
galera_dir=$(mktemp -d /tmp/bc_galera_XXXXXX)
chmod 755 "$galera_dir"  # the nodes (as the mysql user) make their directories inside
cleanup() {
  scripts/pg_test_server.sh stop "$pg_dir"
  scripts/mariadb_test_server.sh stop "$mariadb_dir"
  if [ -n "${galera_start:-}" ]; then wait "$galera_start" 2>/dev/null || true; fi
  scripts/galera_test_cluster.sh stop "$galera_dir/cluster"
  rm -rf "$galera_dir"
}
trap cleanup EXIT
scripts/galera_test_cluster.sh start "$galera_dir/cluster" "$galera_port" >"$galera_dir/urls" &
galera_start=$!
# The cluster starts (about 20 s, mostly waiting) while the build runs.
cmake --build build -j2
BATCH_CLEANUP_TEST_PG_URL=$(scripts/pg_test_server.sh start "$pg_dir" "$port")
export BATCH_CLEANUP_TEST_PG_URL
export BATCH_CLEANUP_TEST_PG_DIR=$pg_dir
export BATCH_CLEANUP_REQUIRE_PG=1
export BATCH_CLEANUP_REQUIRE_CHROMIUM=1
echo "PostgreSQL test server: $BATCH_CLEANUP_TEST_PG_URL"
# The MariaDB server of the MySQL/MariaDB store's tests (its own process, never the system
# service).
BATCH_CLEANUP_TEST_MARIADB_URL=$(scripts/mariadb_test_server.sh start "$mariadb_dir" "$mariadb_port")
export BATCH_CLEANUP_TEST_MARIADB_URL
export BATCH_CLEANUP_TEST_MARIADB_DIR=$mariadb_dir
export BATCH_CLEANUP_REQUIRE_MARIADB=1
echo "MariaDB test server: ${BATCH_CLEANUP_TEST_MARIADB_URL/:bc_test_pw@/:***@}"
# The Galera tier's 3-node cluster (integration.galera), its three URLs separated by spaces.
wait "$galera_start"
BATCH_CLEANUP_TEST_GALERA_URLS=$(tr '\n' ' ' <"$galera_dir/urls")
export BATCH_CLEANUP_TEST_GALERA_URLS
export BATCH_CLEANUP_TEST_GALERA_DIR=$galera_dir/cluster
export BATCH_CLEANUP_REQUIRE_GALERA=1
echo "Galera test cluster: ${BATCH_CLEANUP_TEST_GALERA_URLS//:bc_test_pw@/:***@}"

ctest --test-dir build --output-on-failure -j2 --timeout 600 "$@"
