-- A sign-up schema like the one batch_cleanup grew from (SQLite): users, pending sign-ups whose
-- token expires 24 h after sign-up and is renewed in place when the person signs up again, and
-- the OTP codes of both. Times are relative to now, so the dry run below prints the same counts
-- whenever it runs.
PRAGMA foreign_keys = ON;
CREATE TABLE users (
  user_id TEXT PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  phone TEXT UNIQUE
);
CREATE TABLE pending_users (
  pending_user_id TEXT PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  phone TEXT UNIQUE,
  created_at TIMESTAMP NOT NULL,         -- set once at sign-up
  expires_at TIMESTAMP NOT NULL,         -- created_at + 24 h, renewed on a new sign-up
  is_verified INTEGER NOT NULL DEFAULT 0,
  otp_locked_until TIMESTAMP             -- too many wrong codes: locked until then
);
CREATE TABLE otp_verifications (
  otp_id TEXT PRIMARY KEY,
  pending_user_id TEXT REFERENCES pending_users (pending_user_id) ON DELETE CASCADE,
  user_id TEXT REFERENCES users (user_id) ON DELETE CASCADE,
  code TEXT NOT NULL,
  CHECK ((user_id IS NULL) <> (pending_user_id IS NULL))
);
CREATE INDEX otp_pending_idx ON otp_verifications (pending_user_id);
CREATE INDEX otp_user_idx ON otp_verifications (user_id);

INSERT INTO users (user_id, email, phone) VALUES
  ('u1', 'alice@example.com', '+4915100000001'),
  ('u2', 'bob@example.com', '+4915100000002'),
  ('u3', 'carol@example.com', '+4915100000003');

-- p1, p2: verified an hour ago; their users rows exist, the pending rows stayed behind.
-- p3: verified a minute ago, still inside the in-flight window (min-age 15m).
-- p4, p5: tokens that expired two days ago. p6: expired ten minutes ago (not an hour yet).
-- p7: signed up three days ago, renewed this morning: the application still accepts it.
-- p8: expired two days ago but locked out for another hour: kept until the lock ends.
INSERT INTO pending_users (pending_user_id, email, phone, created_at, expires_at, is_verified,
                           otp_locked_until) VALUES
  ('p1', 'alice@example.com', '+4915100000001', datetime('now', '-70 minutes'),
   datetime('now', '+1370 minutes'), 1, NULL),
  ('p2', 'bob@example.com', '+4915100000002', datetime('now', '-65 minutes'),
   datetime('now', '+1375 minutes'), 1, NULL),
  ('p3', 'carol@example.com', '+4915100000003', datetime('now', '-1 minutes'),
   datetime('now', '+1439 minutes'), 1, NULL),
  ('p4', 'dave@example.com', '+4915100000004', datetime('now', '-3 days'),
   datetime('now', '-2 days'), 0, NULL),
  ('p5', 'erin@example.com', '+4915100000005', datetime('now', '-4 days'),
   datetime('now', '-2 days'), 0, NULL),
  ('p6', 'frank@example.com', '+4915100000006', datetime('now', '-1450 minutes'),
   datetime('now', '-10 minutes'), 0, NULL),
  ('p7', 'grace@example.com', '+4915100000007', datetime('now', '-3 days'),
   datetime('now', '+20 hours'), 0, NULL),
  ('p8', 'heidi@example.com', '+4915100000008', datetime('now', '-3 days'),
   datetime('now', '-2 days'), 0, datetime('now', '+1 hours'));

INSERT INTO otp_verifications (otp_id, pending_user_id, user_id, code) VALUES
  ('o1', 'p1', NULL, '111111'), ('o2', 'p2', NULL, '222222'), ('o3', 'p3', NULL, '333333'),
  ('o4', 'p4', NULL, '444444'), ('o4b', 'p4', NULL, '444445'), ('o5', 'p5', NULL, '555555'),
  ('o6', 'p6', NULL, '666666'), ('o7', 'p7', NULL, '777777'), ('o8', 'p8', NULL, '888888'),
  ('o9', NULL, 'u1', '999999');
