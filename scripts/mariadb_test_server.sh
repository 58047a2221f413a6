#!/usr/bin/env bash
# Starts or stops a throwaway MariaDB server for the tests: mariadb-install-db in a directory of
# its own, mariadbd listening on 127.0.0.1 only, with its own socket and pid file there; never
# the system service. As root, the server runs as the `mysql` user. InnoDB flushes its log at
# every commit (innodb_flush_log_at_trx_commit=1), as a production server does.
#
#   scripts/mariadb_test_server.sh start DIR PORT [SERVER OPTION...]
#                                                   # prints the URL of a test user on stdout
#   scripts/mariadb_test_server.sh stop DIR
#   scripts/mariadb_test_server.sh kill DIR         # kill -9 the server, keep the data
#   scripts/mariadb_test_server.sh resume DIR       # start it again after kill (same port)
#
# The test user bc_test (password bc_test_pw) may do everything on every database, and create
# databases: each test makes one of its own. Server options after the port (--log-bin,
# --binlog-format=STATEMENT, --server-id=2, ...) are kept in DIR/options for resume.
set -euo pipefail

mysqld=$(command -v mariadbd || echo /usr/sbin/mariadbd)
install_db=$(command -v mariadb-install-db || echo /usr/bin/mariadb-install-db)
if [ ! -x "$mysqld" ]; then
  echo "no mariadbd (apt-get install mariadb-server)" >&2
  exit 1
fi

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u mysql -- "$@"; else "$@"; fi
}

launch() {
  local dir=$1 port
  port=$(cat "$dir/port")
  local options=()
  if [ -s "$dir/options" ]; then mapfile -t options <"$dir/options"; fi
  as_owner "$mysqld" --no-defaults --datadir="$dir/data" --socket="$dir/mysqld.sock" \
    --pid-file="$dir/mysqld.pid" --port="$port" --bind-address=127.0.0.1 \
    --innodb_flush_log_at_trx_commit=1 --innodb-buffer-pool-size=64M --max-connections=300 \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
    --skip-name-resolve --log-error="$dir/server.log" --tmpdir="$dir" "${options[@]}" \
    >/dev/null 2>&1 &
  for _ in $(seq 1 300); do
    if [ -S "$dir/mysqld.sock" ] && mariadb --no-defaults -S "$dir/mysqld.sock" -uroot \
      -e 'SELECT 1' >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  echo "mariadbd did not start:" >&2
  cat "$dir/server.log" >&2
  exit 1
}

cmd=${1:?start|stop|kill|resume}
dir=${2:?directory}
case "$cmd" in
  start)
    port=${3:?port}
    mkdir -p "$dir"
    echo "$port" >"$dir/port"
    shift 3
    : >"$dir/options"
    if [ $# -gt 0 ]; then printf '%s\n' "$@" >"$dir/options"; fi
    if [ "$(id -u)" -eq 0 ]; then chown -R mysql:mysql "$dir"; fi
    if [ ! -d "$dir/data/mysql" ]; then
      as_owner "$install_db" --no-defaults --datadir="$dir/data" --auth-root-authentication-method=socket \
        --skip-test-db >"$dir/install.log" 2>&1 || { cat "$dir/install.log" >&2; exit 1; }
    fi
    launch "$dir"
    mariadb --no-defaults -S "$dir/mysqld.sock" -uroot -e "
      CREATE USER IF NOT EXISTS 'bc_test'@'127.0.0.1' IDENTIFIED BY 'bc_test_pw';
      GRANT ALL PRIVILEGES ON *.* TO 'bc_test'@'127.0.0.1' WITH GRANT OPTION;
      CREATE DATABASE IF NOT EXISTS bc_test;"
    echo "mysql://bc_test:bc_test_pw@127.0.0.1:$port/bc_test"
    ;;
  kill)
    if [ -f "$dir/mysqld.pid" ]; then kill -9 "$(cat "$dir/mysqld.pid")" 2>/dev/null || true; fi
    for _ in $(seq 1 100); do
      [ -S "$dir/mysqld.sock" ] || break
      if ! mariadb --no-defaults -S "$dir/mysqld.sock" -uroot -e 'SELECT 1' >/dev/null 2>&1; then
        break
      fi
      sleep 0.1
    done
    rm -f "$dir/mysqld.sock" "$dir/mysqld.pid"
    ;;
  resume)
    launch "$dir"
    ;;
  stop)
    if [ -f "$dir/mysqld.pid" ]; then
      pid=$(cat "$dir/mysqld.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start DIR PORT | stop DIR | kill DIR | resume DIR" >&2
    exit 2
    ;;
esac
