# Sourced by the PostgreSQL benchmarks: builds the tool when missing, starts a throwaway server
# with default settings (fsync on) on 127.0.0.1:$port, and stops it on exit. Defines pgdir,
# conn, psql_q DB [psql args...], now_ms, users_tbl and pending_tbl. Needs $port set.
[ -x build/batch_cleanup ] || { cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null; cmake --build build -j2; }

bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pgdir=$(mktemp -d /tmp/bc_bench_XXXXXX)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres "$pgdir"
as_pg "$bindir/initdb" -D "$pgdir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
as_pg "$bindir/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w -o "-p $port -k $pgdir -c listen_addresses=127.0.0.1" start >/dev/null
trap 'as_pg "$bindir/pg_ctl" -D "$pgdir/data" -m immediate stop >/dev/null 2>&1; rm -rf "$pgdir"' EXIT
conn="host=127.0.0.1 port=$port user=postgres"
psql_q() { psql "$conn dbname=$1" -X -q -v ON_ERROR_STOP=1 -At "${@:2}"; }
now_ms() { date +%s%3N; }
users_tbl=core_mstr_one_qlick_users_tbl
pending_tbl=core_mstr_one_qlick_pending_users_tbl
