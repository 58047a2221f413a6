#!/usr/bin/env bash
# batch_cleanup on MariaDB, side by side with the two ways a MySQL team deletes today: one
# set-based `DELETE ... JOIN`, and Percona's pt-archiver with its fast settings (`--purge
# --bulk-delete --limit 1000 --primary-key-only`, the issue's measurement). A throwaway MariaDB
# server of its own (scripts/mariadb_test_server.sh, InnoDB with innodb_flush_log_at_trx_commit=1),
# N users and N pending rows with CHAR(36) uuid keys and UNIQUE(email) on both tables, half the
# pending rows duplicates. Each contender runs on a fresh copy; the order rotates between
# repetitions. After every run the script checks that exactly the N/2 duplicates are gone and
# every other row is kept.
#
#   bench/mariadb_side_by_side.sh [BINARY=build/batch_cleanup] [N=200000] [REPS=3] [extra args...]
# Prints one TSV line per run (rep, contender, wall ms, deleted) and the medians with their
# ratio to the single DELETE; the TSV goes to bench/results/mariadb_N.tsv.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-build/batch_cleanup}
n=${2:-200000}
reps=${3:-3}
shift $(($# >= 3 ? 3 : $#))
extra=("$@")
port=${BENCH_MARIADB_PORT:-54410}
if ! command -v pt-archiver >/dev/null; then
  echo "pt-archiver is missing: apt-get install percona-toolkit" >&2
  exit 1
fi
work=$(mktemp -d /tmp/bc_mariadb_bench_XXXXXX)
chmod 755 "$work"  # the server runs as the mysql user
trap 'scripts/mariadb_test_server.sh stop "$work/server" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
scripts/mariadb_test_server.sh start "$work/server" "$port" >/dev/null
sql() { mariadb --no-defaults -S "$work/server/mysqld.sock" -uroot -N -B "$@" |
  sed '/\tanalyze\tstatus\tOK$/d'; }
users=core_mstr_one_qlick_users_tbl
pending=core_mstr_one_qlick_pending_users_tbl
out=${BENCH_RESULTS:-bench/results}/mariadb_$n.tsv
mkdir -p "$(dirname "$out")"

echo "== $n pending rows, $reps repetitions, MariaDB $(sql -e 'SELECT VERSION()')"
sql <<SQL
CREATE DATABASE bench_tpl;
USE bench_tpl;
CREATE TABLE $users (user_id CHAR(36) PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE,
  phone VARCHAR(32), full_name VARCHAR(255), created_at DATETIME(6) NOT NULL DEFAULT NOW(6))
  ENGINE=InnoDB;
CREATE TABLE $pending (pending_user_id CHAR(36) PRIMARY KEY, email VARCHAR(255) UNIQUE,
  phone VARCHAR(32), full_name VARCHAR(255), otp_hash CHAR(32),
  created_at DATETIME(6) NOT NULL DEFAULT NOW(6)) ENGINE=InnoDB;
INSERT INTO $users (user_id, email, full_name)
  SELECT UUID(), CONCAT('user', seq, '@example.com'), CONCAT('User ', seq) FROM seq_1_to_$n;
INSERT INTO $pending (pending_user_id, email, full_name, otp_hash)
  SELECT UUID(), IF(seq % 2 = 0, CONCAT('user', seq, '@example.com'), CONCAT('new', seq, '@example.com')),
         CONCAT('Pending ', seq), MD5(seq) FROM seq_1_to_$n;
ANALYZE TABLE $users, $pending;
SQL

fresh_copy() {
  sql <<SQL
DROP DATABASE IF EXISTS bench_run;
CREATE DATABASE bench_run;
CREATE TABLE bench_run.$users LIKE bench_tpl.$users;
CREATE TABLE bench_run.$pending LIKE bench_tpl.$pending;
INSERT INTO bench_run.$users SELECT * FROM bench_tpl.$users;
INSERT INTO bench_run.$pending SELECT * FROM bench_tpl.$pending;
ANALYZE TABLE bench_run.$users, bench_run.$pending;
SQL
  sync
}

# Exactly the duplicates are gone: N/2 pending rows left, none of them a user's email.
check_outcome() {  # contender
  local left dup
  left=$(sql -e "SELECT COUNT(*) FROM bench_run.$pending")
  dup=$(sql -e "SELECT COUNT(*) FROM bench_run.$pending p JOIN bench_run.$users u ON u.email = p.email")
  if [ "$left" -ne $((n - n / 2)) ] || [ "$dup" -ne 0 ]; then
    echo "$1 left $left pending rows ($dup duplicates); expected $((n - n / 2)) and 0" >&2
    exit 1
  fi
}

now_ms() { date +%s%3N; }
run_single() {
  sql -D bench_run -e "DELETE p FROM $pending p JOIN $users u ON u.email = p.email"
}
run_pt_archiver() {
  pt-archiver --source "h=127.0.0.1,P=$port,u=bc_test,p=bc_test_pw,D=bench_run,t=$pending" \
    --where "EXISTS (SELECT 1 FROM bench_run.$users u WHERE u.email = $pending.email)" \
    --purge --bulk-delete --limit 1000 --primary-key-only --no-check-charset >/dev/null
}
run_batch_cleanup() {
  "$binary" --run-once --output json --log-level warning \
    --database-url "mysql://bc_test:bc_test_pw@127.0.0.1:$port/bench_run" "${extra[@]}" >/dev/null
}

printf 'rep\tcontender\ttime_ms\tdeleted\n' >"$out"
contenders=(single pt_archiver batch_cleanup)
for rep in $(seq 1 "$reps"); do
  for i in 0 1 2; do
    contender=${contenders[$(((i + rep - 1) % 3))]}
    fresh_copy
    start=$(now_ms)
    "run_$contender"
    ms=$(($(now_ms) - start))
    check_outcome "$contender"
    printf '%s\t%s\t%s\t%s\n' "$rep" "$contender" "$ms" $((n / 2)) | tee -a "$out"
  done
done

python3 - "$out" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
median = {c: statistics.median(int(r["time_ms"]) for r in rows if r["contender"] == c)
          for c in ("single", "pt_archiver", "batch_cleanup")}
for c, ms in median.items():
    print(f"{c:14} median {ms:8.0f} ms  {ms / median['single']:.2f}x single")
print(f"batch_cleanup / pt_archiver: {median['batch_cleanup'] / median['pt_archiver']:.2f}")
PY
