#!/usr/bin/env bash
# Two builds of batch_cleanup side by side, at their defaults, on the dataset of run_bench.sh:
# each repetition runs the single set-based DELETE, then BASELINE, then CANDIDATE (the order
# alternates between repetitions), each on a fresh copy of the template. Prints a TSV and the
# medians; the ratio CANDIDATE/BASELINE is what a refactor must keep near 1.
#
#   bench/compare_binaries.sh ROWS BASELINE_BINARY [CANDIDATE_BINARY] [extra args...]
#   REPS=5 bench/compare_binaries.sh 1000000 /tmp/old-build/batch_cleanup build/batch_cleanup
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:?pending rows}
baseline=${2:?baseline binary}
candidate=${3:-build/batch_cleanup}
shift $(( $# >= 3 ? 3 : 2 ))
extra=("$@")
port=${BENCH_PORT:-54392}
reps=${REPS:-3}
source bench/bench_server.sh
source bench/bench_dataset.sh

out=${BENCH_RESULTS:-bench/results}/compare_$n.tsv
mkdir -p "$(dirname "$out")"
printf 'rep\tcontender\ttime_ms\tdeleted\tbatches\tbatch_p99_ms\n' >"$out"
run() {  # rep name binary
  fresh_copy
  local start ms json
  start=$(now_ms)
  json=$("$3" --run-once --output json --log-level warning --database-url "$conn dbname=bench_run" \
    "${extra[@]}" | tail -1)
  ms=$(($(now_ms) - start))
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$ms" \
    "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["deleted"], d["batches"], d["batch_p99_ms"], sep="\t")' "$json")" >>"$out"
}
echo "== $n pending rows, $reps repetitions"
build_template "$n"
for rep in $(seq 1 "$reps"); do
  fresh_copy
  start=$(now_ms)
  psql_q bench_run -c "DELETE FROM $pending_tbl p USING $users_tbl u WHERE p.email = u.email"
  printf '%s\tsingle\t%s\t%s\t1\t\n' "$rep" $(($(now_ms) - start)) $((n / 2)) >>"$out"
  if [ $((rep % 2)) -eq 1 ]; then
    run "$rep" baseline "$baseline"
    run "$rep" candidate "$candidate"
  else
    run "$rep" candidate "$candidate"
    run "$rep" baseline "$baseline"
  fi
done
python3 - "$out" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
med = {c: statistics.median(int(r["time_ms"]) for r in rows if r["contender"] == c)
       for c in ("single", "baseline", "candidate")}
for c, t in med.items():
    print(f"{c:10s} median {t:7.0f} ms  {t / med['single']:.2f}x single")
print(f"candidate / baseline: {med['candidate'] / med['baseline']:.3f}")
PY
