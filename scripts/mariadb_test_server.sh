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

# shellcheck source=scripts/mariadb_common.sh
. "$(dirname "$0")/mariadb_common.sh"

cmd=${1:?start|stop|kill|resume}
dir=${2:?directory}

# The server options given to start, one per line in DIR/options.
saved_options() {
  options=()
  if [ -s "$dir/options" ]; then mapfile -t options <"$dir/options"; fi
}
case "$cmd" in
  start)
    port=${3:?port}
    own_dir "$dir"
    echo "$port" >"$dir/port"
    shift 3
    : >"$dir/options"
    if [ $# -gt 0 ]; then printf '%s\n' "$@" >"$dir/options"; fi
    install_datadir "$dir"
    saved_options
    launch_server "$dir" "${options[@]}"
    create_test_user "$dir"
    test_url "$port"
    ;;
  kill)
    kill_server "$dir"
    ;;
  resume)
    saved_options
    launch_server "$dir" "${options[@]}"
    ;;
  stop)
    stop_server "$dir"
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start DIR PORT [SERVER OPTION...] | stop DIR | kill DIR | resume DIR" >&2
    exit 2
    ;;
esac
