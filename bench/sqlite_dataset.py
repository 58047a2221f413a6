#!/usr/bin/env python3
"""The SQLite benchmark dataset: N users and N pending rows, half of them a user's email.

    bench/sqlite_dataset.py PATH N
"""
import sqlite3, sys
path, n = sys.argv[1], int(sys.argv[2])
db = sqlite3.connect(path)
db.executescript("""
CREATE TABLE core_mstr_one_qlick_users_tbl (user_id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE,
  full_name TEXT, created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE core_mstr_one_qlick_pending_users_tbl (pending_user_id TEXT PRIMARY KEY, email TEXT UNIQUE,
  full_name TEXT, otp_hash TEXT, created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP);
""")
db.executemany("INSERT INTO core_mstr_one_qlick_users_tbl (user_id, email, full_name) VALUES (lower(hex(randomblob(16))), ?, ?)",
               ((f"user{i}@example.com", f"User {i}") for i in range(1, n + 1)))
db.executemany("INSERT INTO core_mstr_one_qlick_pending_users_tbl (pending_user_id, email, full_name, otp_hash) VALUES (lower(hex(randomblob(16))), ?, ?, hex(randomblob(8)))",
               (((f"user{i}@example.com" if i % 2 == 0 else f"new{i}@example.com"), f"Pending {i}") for i in range(1, n + 1)))
db.commit()
db.execute("ANALYZE")
db.close()
