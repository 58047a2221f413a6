#!/usr/bin/env bash
# SQLite side by side: batch_cleanup against one `DELETE ... WHERE EXISTS` on copies of the same
# file (N users, N pending rows, half of them duplicates; unique indexes on both email columns).
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
for rep in $(seq 1 "$reps"); do
  cp "$work/template.db" "$work/run.db"
  sync
  start=$(now_ms)
  rows=$(python3 -c "
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
cur = db.execute('DELETE FROM core_mstr_one_qlick_pending_users_tbl AS p WHERE EXISTS (SELECT 1 FROM core_mstr_one_qlick_users_tbl u WHERE u.email = p.email)')
db.commit()
print(cur.rowcount)" "$work/run.db")
  ms=$(($(now_ms) - start))
  printf 'single\t%s\t%s\t\t\t\t1\tone DELETE ... WHERE EXISTS, one transaction\n' "$ms" "$rows" >>"$tsv"
  echo "single: $ms ms ($rows rows)"

  cp "$work/template.db" "$work/run.db"
  sync
  start=$(now_ms)
  /usr/bin/time -f "%M" -o "$work/rss" build/batch_cleanup --run-once --output json --log-level warning \
    --database-url "sqlite:$work/run.db" >"$work/out.json"
  ms=$(($(now_ms) - start))
  python3 - "$work/out.json" "$ms" "$(tail -1 "$work/rss")" >>"$tsv" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print(f"batch_cleanup\t{sys.argv[2]}\t{r['deleted']}\t{sys.argv[3]}\t{r['batch_p50_ms']}\t{r['batch_p99_ms']}\t{r['batches']}\tdefaults (--batch-size 5000)")
PY
  echo "batch_cleanup: $ms ms"
done
