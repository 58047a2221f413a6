# shellcheck shell=bash
# Shared by scripts/mariadb_test_server.sh and scripts/galera_test_cluster.sh (sourced, not run):
# finding the server, running it as the `mysql` user when root, making a data directory,
# launching mariadbd on 127.0.0.1 with its own socket and pid file, and the test user.

mysqld=$(command -v mariadbd || echo /usr/sbin/mariadbd)
install_db=$(command -v mariadb-install-db || echo /usr/bin/mariadb-install-db)
if [ ! -x "$mysqld" ]; then
  echo "no mariadbd (apt-get install mariadb-server)" >&2
  exit 1
fi

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u mysql -- "$@"; else "$@"; fi
}

# own_dir DIR: creates DIR, owned by the user the server runs as.
own_dir() {
  mkdir -p "$1"
  if [ "$(id -u)" -eq 0 ]; then chown -R mysql:mysql "$1"; fi
}

# install_datadir DIR: mariadb-install-db into DIR/data unless it is there already.
install_datadir() {
  local dir=$1
  if [ ! -d "$dir/data/mysql" ]; then
    as_owner "$install_db" --no-defaults --datadir="$dir/data" --auth-root-authentication-method=socket \
      --skip-test-db >"$dir/install.log" 2>&1 || { cat "$dir/install.log" >&2; exit 1; }
  fi
}

# root_sql DIR SQL...: runs SQL as root over DIR's socket.
root_sql() {
  local dir=$1
  shift
  mariadb --no-defaults -S "$dir/mysqld.sock" -uroot "$@"
}

# launch_server DIR [MARIADBD OPTION...]: starts mariadbd on DIR/data, port $(cat DIR/port), in
# the background, and returns once it answers on its socket (about 30 s at most).
launch_server() {
  local dir=$1 port
  shift
  port=$(cat "$dir/port")
  as_owner "$mysqld" --no-defaults --datadir="$dir/data" --socket="$dir/mysqld.sock" \
    --pid-file="$dir/mysqld.pid" --port="$port" --bind-address=127.0.0.1 \
    --innodb_flush_log_at_trx_commit=1 --innodb-buffer-pool-size=64M --max-connections=300 \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
    --skip-name-resolve --log-error="$dir/server.log" --tmpdir="$dir" "$@" >/dev/null 2>&1 &
  wait_server "$dir"
}

# wait_server DIR: waits until the server answers on DIR's socket (about 30 s at most).
wait_server() {
  local dir=$1
  for _ in $(seq 1 300); do
    if [ -S "$dir/mysqld.sock" ] && root_sql "$dir" -e 'SELECT 1' >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  echo "mariadbd did not start:" >&2
  cat "$dir/server.log" >&2
  exit 1
}

# kill_server DIR: kill -9 the server, keep the data.
kill_server() {
  local dir=$1
  if [ -f "$dir/mysqld.pid" ]; then kill -9 "$(cat "$dir/mysqld.pid")" 2>/dev/null || true; fi
  for _ in $(seq 1 100); do
    [ -S "$dir/mysqld.sock" ] || break
    if ! root_sql "$dir" -e 'SELECT 1' >/dev/null 2>&1; then
      break
    fi
    sleep 0.1
  done
  rm -f "$dir/mysqld.sock" "$dir/mysqld.pid"
}

# stop_server DIR: stops the server (SIGTERM, then SIGKILL after 30 s).
stop_server() {
  local dir=$1 pid
  if [ -f "$dir/mysqld.pid" ]; then
    pid=$(cat "$dir/mysqld.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
}

# create_test_user DIR: the test user bc_test (password bc_test_pw), allowed everything, and
# its database bc_test.
create_test_user() {
  root_sql "$1" -e "
    CREATE USER IF NOT EXISTS 'bc_test'@'127.0.0.1' IDENTIFIED BY 'bc_test_pw';
    GRANT ALL PRIVILEGES ON *.* TO 'bc_test'@'127.0.0.1' WITH GRANT OPTION;
    CREATE DATABASE IF NOT EXISTS bc_test;"
}

test_url() {
  echo "mysql://bc_test:bc_test_pw@127.0.0.1:$1/bc_test"
}
