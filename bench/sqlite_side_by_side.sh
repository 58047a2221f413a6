#!/usr/bin/env bash
# Two builds of batch_cleanup side by side on SQLite, against one DELETE ... WHERE EXISTS, with
# the rollback journal and in WAL mode (set on each copy before the run; the tool never changes
# it). The dataset is bench/sqlite_bench.sh's: N users, N pending rows, half of them duplicates.
#
#   bench/sqlite_side_by_side.sh OLD_BINARY NEW_BINARY [N=300000] [REPS=3]
# Prints one line per run: repetition, journal mode, contender, wall ms, deleted, batches, p99.
set -euo pipefail
old=${1:?old binary}
new=${2:?new binary}
n=${3:-300000}
reps=${4:-3}
work=$(mktemp -d /tmp/bc_sqlite_sbs_XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 "$(dirname "$0")/sqlite_dataset.py" "$work/template.db" "$n"
now() { date +%s%3N; }
copy() {  # journal mode
  cp "$work/template.db" "$work/run.db"
  python3 -c "import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute('PRAGMA journal_mode=' + sys.argv[2])" "$work/run.db" "$1"
  sync
}
for rep in $(seq 1 "$reps"); do
  for mode in delete wal; do
    copy "$mode"
    start=$(now)
    python3 -c "
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute('DELETE FROM core_mstr_one_qlick_pending_users_tbl AS p WHERE EXISTS (SELECT 1 FROM core_mstr_one_qlick_users_tbl u WHERE u.email = p.email)')
db.commit()" "$work/run.db"
    echo "$rep $mode single $(($(now) - start))"
    for contender in "old:$old" "new:$new"; do
      copy "$mode"
      start=$(now)
      "${contender#*:}" --run-once --output json --log-level warning \
        --database-url "sqlite:$work/run.db" >"$work/out.json"
      ms=$(($(now) - start))
      echo "$rep $mode ${contender%%:*} $ms $(python3 -c "import json, sys; r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); print(r['deleted'], r['batches'], r['batch_p99_ms'])" "$work/out.json")"
    done
  done
done
