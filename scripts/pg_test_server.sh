#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL server for the tests: initdb in a temporary directory,
# listening on 127.0.0.1 only. As root, the server runs as the `postgres` user.
#
#   scripts/pg_test_server.sh start DIR PORT   # prints the libpq URL on stdout
#   scripts/pg_test_server.sh stop DIR
#   scripts/pg_test_server.sh restart DIR fast|immediate    # for fault tests
#   scripts/pg_test_server.sh halt DIR fast|immediate       # stop, keep the data directory
#   scripts/pg_test_server.sh standby DIR PORT PRIMARY_PORT ['-c name=value ...']
#                                                     # pg_basebackup -R, then start
#   scripts/pg_test_server.sh promote DIR
#   scripts/pg_test_server.sh tls-password DIR    # TCP needs TLS and a password (scram)
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$bindir" ]; then
  echo "no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)" >&2
  exit 1
fi

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cmd=${1:?start|stop}
dir=${2:?directory}
case "$cmd" in
  start)
    port=${3:?port}
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir"; fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 \
        --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "host=127.0.0.1 port=$port user=postgres dbname=postgres"
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null || true
    fi
    rm -rf "$dir"
    ;;
  restart)
    mode=${3:?fast|immediate}
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m "$mode" -w -t 60 restart \
      >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    ;;
  halt)
    mode=${3:?fast|immediate}
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m "$mode" -w stop >/dev/null
    ;;
  standby)
    port=${3:?port}
    primary_port=${4:?primary port}
    extra=${5:-}
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir"; fi
    as_owner "$bindir/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres -D "$dir/data" \
      -R -X stream -c fast >"$dir/basebackup.log" 2>&1 || { cat "$dir/basebackup.log" >&2; exit 1; }
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 $extra" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "host=127.0.0.1 port=$port user=postgres dbname=postgres"
    ;;
  promote)
    as_owner "$bindir/pg_ctl" -D "$dir/data" -w -t 60 promote >/dev/null
    ;;
  tls-password)
    # A self-signed certificate; TCP connections must use TLS and a scram password (the
    # Unix socket stays trusted for the test's own setup).
    as_owner openssl req -new -x509 -days 2 -nodes -subj /CN=127.0.0.1 \
      -keyout "$dir/data/server.key" -out "$dir/data/server.crt" >/dev/null 2>&1
    chmod 600 "$dir/data/server.key"
    cat >>"$dir/data/postgresql.auto.conf" <<CONF
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
password_encryption = 'scram-sha-256'
CONF
    cat >"$dir/data/pg_hba.conf" <<CONF
local all all trust
hostssl all all 127.0.0.1/32 scram-sha-256
CONF
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir/data/pg_hba.conf"; fi
    as_owner "$bindir/pg_ctl" -D "$dir/data" -w reload >/dev/null
    sleep 1
    ;;
  *)
    echo "usage: $0 start DIR PORT | stop DIR | restart DIR MODE | halt DIR MODE |" \
      "standby DIR PORT PRIMARY_PORT | promote DIR | tls-password DIR" >&2
    exit 2
    ;;
esac
