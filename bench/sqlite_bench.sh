#!/usr/bin/env bash
# SQLite side by side: batch_cleanup against one `DELETE ... WHERE EXISTS` on copies of the same
# file (N users, N pending rows, half of them duplicates; unique indexes on both email columns),
# with the rollback journal (the default) and in WAL mode.
# Writes bench/results/sqlite_<N>.tsv (or $BENCH_RESULTS/...), which bench/write_report.py includes in BENCHMARKS.md.
#
#   bench/sqlite_bench.sh            # N = 1000000
#   bench/sqlite_bench.sh 200000
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
reps=${REPS:-3}
results=${BENCH_RESULTS:-bench/results}
mkdir -p "$results"
[ -x build/batch_cleanup ] || { cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null; cmake --build build -j2; }
work=$(mktemp -d /tmp/bc_sqlite_bench_XXXXXX)
trap 'rm -rf "$work"' EXIT

python3 bench/sqlite_dataset.py "$work/template.db" "$n"

now_ms() { date +%s%3N; }
tsv=$results/sqlite_$n.tsv
printf 'contender\ttime_ms\trows\tpeak_rss_kb\tbatch_p50_ms\tbatch_p99_ms\tbatches\tnote\n' >"$tsv"
# The same file in WAL mode: the journal mode is the file's, so it is set on a copy (batch_cleanup
# never changes it).
cp "$work/template.db" "$work/template_wal.db"
python3 -c "import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute('PRAGMA journal_mode=WAL')" \
  "$work/template_wal.db"
for rep in $(seq 1 "$reps"); do
  for mode in rollback wal; do
    suffix=$([ "$mode" = wal ] && echo _wal || true)
    template=$work/template$suffix.db
    cp "$template" "$work/run.db"
    rm -f "$work/run.db-wal" "$work/run.db-shm"
    sync
    start=$(now_ms)
    rows=$(python3 -c "
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
cur = db.execute('DELETE FROM core_mstr_one_qlick_pending_users_tbl AS p WHERE EXISTS (SELECT 1 FROM core_mstr_one_qlick_users_tbl u WHERE u.email = p.email)')
db.commit()
print(cur.rowcount)" "$work/run.db")
    ms=$(($(now_ms) - start))
    printf 'single%s\t%s\t%s\t\t\t\t1\tone DELETE ... WHERE EXISTS, one transaction (%s)\n' "$suffix" "$ms" "$rows" \
      "$mode" >>"$tsv"
    echo "single ($mode): $ms ms ($rows rows)"

    cp "$template" "$work/run.db"
    rm -f "$work/run.db-wal" "$work/run.db-shm"
    sync
    start=$(now_ms)
    /usr/bin/time -f "%M" -o "$work/rss" build/batch_cleanup --run-once --output json --log-level warning \
      --database-url "sqlite:$work/run.db" >"$work/out.json"
    ms=$(($(now_ms) - start))
    python3 - "$work/out.json" "$ms" "$(tail -1 "$work/rss")" "$suffix" "$mode" >>"$tsv" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print(f"batch_cleanup{sys.argv[4]}\t{sys.argv[2]}\t{r['deleted']}\t{sys.argv[3]}\t{r['batch_p50_ms']}\t{r['batch_p99_ms']}\t{r['batches']}\tdefaults ({sys.argv[5]})")
PY
    echo "batch_cleanup ($mode): $ms ms"
  done
done
