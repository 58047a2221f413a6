#!/usr/bin/env bash
# What the deletion policies cost, side by side in one run on one throwaway PostgreSQL server
# (default settings). One dataset, copied fresh (CREATE DATABASE ... TEMPLATE) for every
# contender, each run REPS times in rotation:
#
#   exact      batch_cleanup at its defaults: exact email (the original's predicate)
#   lower_trim --normalize-email lower-trim, with the expression index preflight advises
#   all        --normalize-email lower-trim --match email,phone --expire-after 30d --min-age 15m
#              --exclude-domain partner.org --exclude-email (100 addresses)
#   single     DELETE ... USING of the exact-email join, one transaction (the reference)
#
# Dataset: N users and N pending rows; half the pending rows share a user's email, a quarter of
# those in another letter case (matched by lower_trim and all only); every 10th pending row
# shares a user's phone; every 7th was created 40 days ago (expired); the rest 1 day ago.
#
#   bench/policy_bench.sh            # N = 1000000, REPS = 3
#   N=200000 REPS=1 bench/policy_bench.sh
# Writes bench/results/policies_<N>.tsv (one line per run).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
n=${N:-1000000}
reps=${REPS:-3}
port=${BENCH_PORT:-54393}
results=${BENCH_RESULTS:-$root/bench/results}
mkdir -p "$results"
source bench/bench_server.sh

echo "== building the dataset: $n users, $n pending rows"
psql_q postgres -c "DROP DATABASE IF EXISTS policy_tpl" -c "CREATE DATABASE policy_tpl"
psql_q policy_tpl <<SQL
CREATE TABLE $users_tbl (user_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email varchar(255) NOT NULL UNIQUE, phone varchar(32), created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE $pending_tbl (pending_user_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email varchar(255) UNIQUE, phone varchar(32), created_at timestamptz NOT NULL);
INSERT INTO $users_tbl (email, phone)
  SELECT 'user' || i || '@example.com', '+1' || lpad(i::text, 10, '0') FROM generate_series(1, $n) i;
INSERT INTO $pending_tbl (email, phone, created_at)
  SELECT CASE WHEN i % 2 = 0 AND i % 8 = 0 THEN 'User' || i || '@Example.com'
              WHEN i % 2 = 0 THEN 'user' || i || '@example.com'
              ELSE 'new' || i || '@example.com' END,
         CASE WHEN i % 10 = 5 THEN '+1' || lpad((i + 1)::text, 10, '0') ELSE '+2' || lpad(i::text, 10, '0') END,
         CASE WHEN i % 7 = 0 THEN now() - interval '40 days' ELSE now() - interval '1 day' END
  FROM generate_series(1, $n) i;
CREATE INDEX ON $users_tbl (lower(btrim(email)));
CREATE INDEX ON $users_tbl (phone);
VACUUM ANALYZE;
SQL
psql_q postgres -c "CHECKPOINT"

excludes=()
for i in $(seq 1 100); do excludes+=(--exclude-email "vip$i@example.com"); done
declare -A args
args[exact]=""
args[lower_trim]="--normalize-email lower-trim"
args[all]="--normalize-email lower-trim --match email,phone --expire-after 30d --min-age 15m --exclude-domain partner.org"

tsv=$results/policies_$n.tsv
printf 'contender\trep\ttime_ms\tdeleted\temail\tphone\texpired\tbatches\tbatch_p99_ms\n' >"$tsv"
fresh_copy() {
  psql_q postgres -c "DROP DATABASE IF EXISTS policy_run" -c "CREATE DATABASE policy_run TEMPLATE policy_tpl"
  psql_q postgres -c "CHECKPOINT"
}
for rep in $(seq 1 "$reps"); do
  for contender in single exact lower_trim all; do
    fresh_copy
    start=$(now_ms)
    if [ "$contender" = single ]; then
      rows=$(psql_q policy_run -c "WITH d AS (DELETE FROM $pending_tbl p USING $users_tbl u WHERE p.email = u.email RETURNING 1) SELECT count(*) FROM d")
      ms=$(($(now_ms) - start))
      printf 'single\t%s\t%s\t%s\t%s\t\t\t1\t\n' "$rep" "$ms" "$rows" "$rows" >>"$tsv"
      echo "   rep $rep single: $ms ms, $rows rows"
      continue
    fi
    extra=()
    [ "$contender" = all ] && extra=("${excludes[@]}")
    # shellcheck disable=SC2086
    json=$(build/batch_cleanup --run-once --output json --log-level warning \
      --database-url "$conn dbname=policy_run" ${args[$contender]} "${extra[@]}" | tail -1)
    ms=$(($(now_ms) - start))
    python3 - "$json" "$contender" "$rep" "$ms" >>"$tsv" <<'PY'
import json, sys
r = json.loads(sys.argv[1]); p = r["deleted_by_policy"]
print("\t".join(str(x) for x in [sys.argv[2], sys.argv[3], sys.argv[4], r["deleted"], p["email"],
                                 p["phone"], p["expired"], r["batches"], r["batch_p99_ms"]]))
PY
    echo "   rep $rep $contender: $ms ms, $(tail -1 "$tsv" | cut -f4) rows"
  done
done
echo "results: $tsv"
python3 - "$tsv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
med = {c: statistics.median(int(r["time_ms"]) for r in rows if r["contender"] == c)
       for c in ("single", "exact", "lower_trim", "all")}
for c, ms in med.items():
    print(f"{c:11s} median {ms:8.0f} ms   x{ms / med['exact']:.2f} of exact   x{ms / med['single']:.2f} of single DELETE")
PY
