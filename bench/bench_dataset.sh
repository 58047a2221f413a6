# Sourced by the PostgreSQL benchmarks after bench_server.sh: the dataset (build_template N:
# N users, N pending rows of which half duplicate a user) and a fresh copy of it per contender.
build_template() {  # $1 = pending rows (users: the same number; half the pending rows duplicate a user)
  local n=$1
  psql_q postgres -c "DROP DATABASE IF EXISTS bench_tpl" -c "CREATE DATABASE bench_tpl"
  psql_q bench_tpl <<SQL
CREATE TABLE $users_tbl (user_id uuid PRIMARY KEY DEFAULT gen_random_uuid(), email varchar(255) NOT NULL UNIQUE,
  phone varchar(32), full_name text, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE $pending_tbl (pending_user_id uuid PRIMARY KEY DEFAULT gen_random_uuid(), email varchar(255) UNIQUE,
  phone varchar(32), full_name text, otp_hash text, created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO $users_tbl (email, full_name) SELECT 'user' || i || '@example.com', 'User ' || i FROM generate_series(1, $n) i;
INSERT INTO $pending_tbl (email, full_name, otp_hash)
  SELECT CASE WHEN i % 2 = 0 THEN 'user' || i || '@example.com' ELSE 'new' || i || '@example.com' END,
         'Pending ' || i, md5(i::text) FROM generate_series(1, $n) i;
-- The archive both archiving contenders write to, shaped as batch_cleanup creates its own.
CREATE TABLE bench_archive (LIKE $pending_tbl, archived_at timestamptz NOT NULL DEFAULT now(),
  cycle_id text NOT NULL, reason text NOT NULL);
CREATE INDEX ON bench_archive (archived_at);
CREATE INDEX ON bench_archive (cycle_id);
VACUUM ANALYZE;
SQL
  psql_q postgres -c "CHECKPOINT"
}

fresh_copy() {
  psql_q postgres -c "DROP DATABASE IF EXISTS bench_run" -c "CREATE DATABASE bench_run TEMPLATE bench_tpl"
  psql_q postgres -c "CHECKPOINT"
}

