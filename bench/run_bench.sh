#!/usr/bin/env bash
# Side-by-side benchmark of batch_cleanup against the alternatives, on a throwaway PostgreSQL
# server with default settings (fsync on). For each scale it builds the dataset once as a
# template database, then runs every contender on a fresh copy (CREATE DATABASE ... TEMPLATE):
#
#   single     DELETE FROM pending p USING users u WHERE p.email = u.email   (one transaction)
#   single_archive  the same, its rows inserted into an archive table by the same statement
#   per_record the original's approach: one DELETE and one COMMIT per row, from the client
#              (psql \gexec); run on the first PER_RECORD_ROWS candidates and projected
#   batch_cleanup at its defaults (auto: email ranges on this data), with --batch-strategy
#              physical, with --workers 2, with --batch-time 50ms, with --batch-strategy key
#              (keyset over the unique email index) and with --archive-table
#   dry_run    batch_cleanup --dry-run, next to SELECT count(*) of the same join
#
# Writes bench/results/<scale>.tsv, bench/results/<scale>.plan.txt (the defaults),
# <scale>.physical.plan.txt and <scale>.key.plan.txt (EXPLAIN of each batch shape), BENCHMARKS.md and bench/results/scaling.png.
#
#   bench/run_bench.sh                 # scales 100000 1000000 5000000 (pending rows)
#   bench/run_bench.sh 100000          # one scale
#   PER_RECORD_ROWS=20000 BENCH_PORT=54391 SQLITE_ROWS=0 bench/run_bench.sh
# BENCH_RESULTS and BENCH_REPORT redirect the output (the ctest smoke run uses them).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scales=("$@")
[ ${#scales[@]} -eq 0 ] && scales=(100000 1000000 5000000)
port=${BENCH_PORT:-54391}
per_record_rows=${PER_RECORD_ROWS:-20000}
results=${BENCH_RESULTS:-$root/bench/results}
report=${BENCH_REPORT:-$root/BENCHMARKS.md}
sqlite_rows=${SQLITE_ROWS:-1000000}
mkdir -p "$results"

if [ "${BENCH_PLOT:-1}" = 1 ] && ! command -v gnuplot >/dev/null && [ "$(id -u)" -eq 0 ]; then
  apt-get install -y -qq gnuplot-nox >/dev/null || echo "no gnuplot: the report will have no plot"
fi
source bench/bench_server.sh

source bench/bench_dataset.sh

# Runs batch_cleanup under GNU time; prints "wall_ms<TAB>peak_rss_kb<TAB>json".
run_tool() {
  local start end
  start=$(now_ms)
  /usr/bin/time -f "%M" -o "$pgdir/rss" build/batch_cleanup --run-once --output json --log-level warning \
    --database-url "$conn dbname=bench_run" "$@" >"$pgdir/out.json"
  end=$(now_ms)
  printf '%s\t%s\t%s\n' $((end - start)) "$(tail -1 "$pgdir/rss")" "$(tail -1 "$pgdir/out.json")"
}

json_field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

record() {  # contender time_ms rows rss p50 p99 batches note
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$tsv"
}

run_contender_tool() {  # name note args...
  local name=$1 note=$2
  shift 2
  fresh_copy
  local line ms rss json
  line=$(run_tool "$@")
  IFS=$'\t' read -r ms rss json <<<"$line"
  record "$name" "$ms" "$(json_field "$json" deleted)" "$rss" "$(json_field "$json" batch_p50_ms)" \
    "$(json_field "$json" batch_p99_ms)" "$(json_field "$json" batches)" "$note"
  echo "   $name: ${ms} ms, peak RSS ${rss} kB, $(json_field "$json" deleted) rows"
}

for n in "${scales[@]}"; do
  echo "== scale: $n pending rows ($((n / 2)) duplicates), $n users"
  build_template "$n"
  tsv=$results/$n.tsv
  printf 'contender\ttime_ms\trows\tpeak_rss_kb\tbatch_p50_ms\tbatch_p99_ms\tbatches\tnote\n' >"$tsv"
  reps=${REPS:-3}
  [ "$n" -gt 1000000 ] && reps=${REPS_LARGE:-1}
  for rep in $(seq 1 "$reps"); do
    echo "-- repetition $rep/$reps"
    fresh_copy
    start=$(now_ms)
    psql_q bench_run -c "DELETE FROM $pending_tbl p USING $users_tbl u WHERE p.email = u.email"
    single_ms=$(($(now_ms) - start))
    record single "$single_ms" "$(psql_q bench_run -c "SELECT $n - count(*) FROM $pending_tbl")" "" "" "" 1 \
      "DELETE ... USING, one transaction"
    echo "   single: ${single_ms} ms"

    fresh_copy
    start=$(now_ms)
    psql_q bench_run -c "WITH d AS (DELETE FROM $pending_tbl p USING $users_tbl u WHERE p.email = u.email RETURNING p.*) INSERT INTO bench_archive SELECT d.*, now(), 'single', 'email exists in users' FROM d"
    single_archive_ms=$(($(now_ms) - start))
    record single_archive "$single_archive_ms" "$(psql_q bench_run -c "SELECT count(*) FROM bench_archive")" "" "" "" 1 \
      "WITH d AS (DELETE ... RETURNING p.*) INSERT INTO archive SELECT ..., one transaction"
    echo "   single_archive: ${single_archive_ms} ms"

    run_contender_tool batch_cleanup "defaults (--batch-size 5000; the shape auto chose)"
    run_contender_tool batch_cleanup_physical "--batch-strategy physical (ctid ranges)" \
      --batch-strategy physical
    run_contender_tool batch_cleanup_workers2 "--workers 2 (two connections, page-range halves)" \
      --workers 2
    run_contender_tool batch_cleanup_batch_time "--batch-time 50ms" --batch-time 50ms
    run_contender_tool batch_cleanup_key "--batch-strategy key (keyset over the unique email index)" \
      --batch-strategy key
    run_contender_tool batch_cleanup_archive "--archive-table bench_archive" --archive-table bench_archive

    # Dry run and count(*) on the same warm copy: one unmeasured count first warms the cache.
    fresh_copy
    count_sql="SELECT count(*) FROM $pending_tbl p WHERE EXISTS (SELECT 1 FROM $users_tbl u WHERE u.email = p.email)"
    psql_q bench_run -c "$count_sql" >/dev/null
    start=$(now_ms)
    psql_q bench_run -c "$count_sql" >/dev/null
    count_ms=$(($(now_ms) - start))
    record count "$count_ms" "$((n / 2))" "" "" "" "" "SELECT count(*) of the join"
    line=$(run_tool --dry-run)
    IFS=$'\t' read -r ms rss json <<<"$line"
    record dry_run "$ms" "$(json_field "$json" candidates)" "$rss" "" "" "" "batch_cleanup --dry-run"
    echo "   count(*): ${count_ms} ms; dry run: ${ms} ms"
  done

  # The original: one DELETE and one COMMIT per row, from the client (psql \gexec), on the
  # first PER_RECORD_ROWS candidates, projected to all of them.
  fresh_copy
  start=$(now_ms)
  printf '%s\n' "SELECT format('DELETE FROM $pending_tbl WHERE pending_user_id = %L', p.pending_user_id) FROM $pending_tbl p WHERE EXISTS (SELECT 1 FROM $users_tbl u WHERE u.email = p.email) LIMIT $per_record_rows \gexec" |
    psql "$conn dbname=bench_run" -X -q -v ON_ERROR_STOP=1 >/dev/null
  per_ms=$(($(now_ms) - start))
  done_rows=$(psql_q bench_run -c "SELECT $n - count(*) FROM $pending_tbl")
  projected=$((per_ms * (n / 2) / done_rows))
  record per_record "$projected" "$((n / 2))" "" "" "" "" \
    "measured: $done_rows rows in $per_ms ms, one commit each; time projected to all rows"
  echo "   per-record: ${per_ms} ms for $done_rows rows, projected ${projected} ms"

  build/batch_cleanup explain --database-url "$conn dbname=bench_tpl" >"$results/$n.plan.txt"
  build/batch_cleanup explain --batch-strategy physical --database-url "$conn dbname=bench_tpl" \
    >"$results/$n.physical.plan.txt"
  build/batch_cleanup explain --batch-strategy key --database-url "$conn dbname=bench_tpl" \
    >"$results/$n.key.plan.txt"
done

if [ "$sqlite_rows" -gt 0 ]; then
  echo "== SQLite: $sqlite_rows pending rows"
  BENCH_RESULTS=$results bench/sqlite_bench.sh "$sqlite_rows"
fi
python3 bench/write_report.py "$results" "$report" "${scales[@]}"
