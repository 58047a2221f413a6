#!/usr/bin/env bash
# Installs the build into a temporary prefix, then builds examples/embedded_worker as a separate
# CMake project that finds the library with find_package(batch_cleanup), and runs it.
set -euo pipefail
source_dir=$1
build_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
cmake -S "$source_dir/examples/embedded_worker" -B "$work/build" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/build" >/dev/null
test -x "$work/prefix/bin/batch_cleanup"
# A tiny database: one user, two pending rows, one of them a duplicate.
python3 - "$work/app.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executescript("""
CREATE TABLE core_mstr_one_qlick_users_tbl (user_id TEXT PRIMARY KEY, email TEXT UNIQUE);
CREATE TABLE core_mstr_one_qlick_pending_users_tbl (pending_user_id TEXT PRIMARY KEY, email TEXT UNIQUE);
INSERT INTO core_mstr_one_qlick_users_tbl VALUES ('u1', 'a@example.com');
INSERT INTO core_mstr_one_qlick_pending_users_tbl VALUES ('p1', 'a@example.com'), ('p2', 'b@example.com');
""")
db.commit()
PY
DATABASE_URL="sqlite:$work/app.db" BATCH_CLEANUP_INTERVAL=1h "$work/build/embedded_worker" | tee "$work/out.txt"
grep -q "first cycle deleted: 1" "$work/out.txt"
remaining=$(python3 -c "import sqlite3,sys; print([r[0] for r in sqlite3.connect(sys.argv[1]).execute('select pending_user_id from core_mstr_one_qlick_pending_users_tbl')])" "$work/app.db")
test "$remaining" = "['p2']"
echo "find_package consumer OK"
