#include "store/postgres/pg_instance_lock.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

#include "batch_cleanup/errors.h"
#include "store/lease_holder.h"
#include "store/postgres/pg_dialect.h"
#include "store/postgres/pg_sqlstate.h"
#include "util/process_identity.h"

namespace batch_cleanup::store::postgres {
namespace {

// First key of batch_cleanup's advisory locks ("bc_1"), so they do not collide with the
// application's single-key locks; the second key is hashtext() of the lease's name.
constexpr const char* kLockClass = "1650679601";

// The columns that let another instance prove a holder dead, and the schedule's last cycle.
constexpr const char* kProofColumns =
    "holder_host text, holder_host_id text, holder_pid bigint, holder_pid_start bigint, "
    "backend_pid integer, backend_start timestamptz, direct_connection boolean, last_cycle_at "
    "timestamptz";

// This statement's server process and when it started (its own row is always visible).
constexpr const char* kBackendStart =
    "(SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid())";

std::optional<std::chrono::system_clock::time_point> from_unix_text(
    const std::optional<std::string>& text) {
  if (!text || text->empty()) return std::nullopt;
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::duration<double>(std::stod(*text))));
}

}  // namespace

std::string PgInstanceLock::lease_table_ddl() const {
  return "CREATE TABLE IF NOT EXISTS " + pg_dialect().quote(lease_.table) +
         " (name text PRIMARY KEY, holder text NOT NULL, epoch bigint NOT NULL, acquired_at "
         "timestamptz NOT NULL, heartbeat_at timestamptz NOT NULL, expires_at timestamptz NOT "
         "NULL, " +
         kProofColumns + ");";
}

bool PgInstanceLock::has_proof_columns() {
  const auto present = session_.exec(
      "SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = "
      "'last_cycle_at' AND NOT attisdropped",
      {pg_dialect().quote(lease_.table)});
  if (present.integer(0, 0) == 1) return true;
  // A lease table of an earlier version: add the columns (IF NOT EXISTS: another instance may
  // be doing the same).
  std::string alter = "ALTER TABLE " + pg_dialect().quote(lease_.table);
  std::string columns = kProofColumns;
  std::size_t start = 0;
  for (bool first = true; start < columns.size(); first = false) {
    auto end = columns.find(", ", start);
    if (end == std::string::npos) end = columns.size();
    alter += std::string(first ? " " : ", ") + "ADD COLUMN IF NOT EXISTS " +
             columns.substr(start, end - start);
    start = end + 2;
  }
  try {
    session_.exec(alter);
    return true;
  } catch (const DatabaseError& e) {
    if (e.kind() == ErrorKind::kRetryable) throw;
    warning_ = "the lease table " + lease_.table.display() +
               " has no columns to prove a dead holder dead, and the role may not add them (" +
               e.what() + "): a standby takes over only when the lease expires";
    return false;
  }
}

bool PgInstanceLock::lease_table_usable(std::string& why_not) {
  try {
    if (session_.exec("SELECT to_regclass($1) IS NULL", {pg_dialect().quote(lease_.table)})
            .text(0, 0) == "t") {
      session_.exec(lease_table_ddl());
    }
  } catch (const DatabaseError& e) {
    if (e.kind() == ErrorKind::kRetryable) throw;
    // Another instance created it at the same moment, or the role may not create it.
    if (session_.exec("SELECT to_regclass($1) IS NULL", {pg_dialect().quote(lease_.table)})
            .text(0, 0) == "t") {
      why_not = "it does not exist and the role may not create it: " + std::string(e.what());
      return false;
    }
  }
  const auto rights = session_.exec(
      "SELECT has_table_privilege($1, 'SELECT') AND has_table_privilege($1, 'INSERT') AND "
      "has_table_privilege($1, 'UPDATE')",
      {pg_dialect().quote(lease_.table)});
  if (rights.text(0, 0) != "t") {
    why_not = "the role may not read and write it (it needs SELECT, INSERT and UPDATE)";
    return false;
  }
  return true;
}

bool PgInstanceLock::try_lock() {
  if (mechanism_ == Mechanism::kUndecided) {
    if (lease_table_usable(why_no_lease_)) {
      mechanism_ = Mechanism::kLease;
      proof_columns_ = has_proof_columns();
    } else {
      mechanism_ = Mechanism::kAdvisory;
      warning_ = "the lease table " + lease_.table.display() + " cannot be used (" + why_no_lease_ +
                 "): falling back to a session advisory lock, which a transaction pooler "
                 "(PgBouncer in transaction mode, RDS Proxy, Supavisor) cannot keep. HINT: as a "
                 "role that may, run " +
                 lease_table_ddl() + " GRANT SELECT, INSERT, UPDATE ON " +
                 pg_dialect().quote(lease_.table) + " TO <role>;";
    }
  }
  held_ = mechanism_ == Mechanism::kLease ? take_lease() : take_advisory();
  return held_;
}

bool PgInstanceLock::take_lease(const LeaseFacts* dead) {
  const auto& self = util::this_process();
  std::vector<std::optional<std::string>> params = {lease_.name(), lease_.holder,
                                                    interval_text(lease_.ttl)};
  std::string sql = "INSERT INTO " + pg_dialect().quote(lease_.table) +
                    " AS l (name, holder, epoch, acquired_at, heartbeat_at, expires_at";
  if (proof_columns_) {
    sql +=
        ", holder_host, holder_host_id, holder_pid, holder_pid_start, backend_pid, backend_start, "
        "direct_connection) VALUES ($1, $2, 1, now(), now(), now() + $3::interval, $4, $5, "
        "$6::bigint, $7::bigint, pg_backend_pid(), " +
        std::string(kBackendStart) +
        ", pg_backend_pid() = $8::int) ON CONFLICT (name) DO UPDATE SET holder = "
        "excluded.holder, epoch = l.epoch + 1, acquired_at = now(), heartbeat_at = now(), "
        "expires_at = excluded.expires_at, holder_host = excluded.holder_host, holder_host_id = "
        "excluded.holder_host_id, holder_pid = excluded.holder_pid, holder_pid_start = "
        "excluded.holder_pid_start, backend_pid = excluded.backend_pid, backend_start = "
        "excluded.backend_start, direct_connection = excluded.direct_connection";
    params.insert(params.end(), {self.host, self.host_id, std::to_string(self.pid),
                                 std::to_string(self.start_ticks),
                                 std::to_string(session_.announced_backend_pid())});
  } else {
    sql +=
        ") VALUES ($1, $2, 1, now(), now(), now() + $3::interval) ON CONFLICT (name) DO UPDATE "
        "SET holder = excluded.holder, epoch = l.epoch + 1, acquired_at = now(), heartbeat_at = "
        "now(), expires_at = excluded.expires_at";
  }
  sql += " WHERE l.expires_at <= now()";
  if (dead != nullptr) {
    params.push_back(dead->holder);
    params.push_back(std::to_string(dead->epoch));
    sql += " OR (l.holder = $" + std::to_string(params.size() - 1) + " AND l.epoch = $" +
           std::to_string(params.size()) + "::bigint)";
  }
  sql += proof_columns_ ? " RETURNING epoch::text, extract(epoch FROM last_cycle_at)::text"
                        : " RETURNING epoch::text, NULL::text";
  try {
    const auto rows = session_.exec(sql, params);
    if (rows.rows() == 0) return false;  // another instance's lease has not expired
    epoch_ = rows.integer(0, 0);
    last_cycle_ = from_unix_text(rows.optional_text(0, 1));
    return true;
  } catch (const DatabaseError& e) {
    // The holder's batch has the row locked (it renews it): held.
    if (e.cause() == ErrorCause::kLockTimeout) return false;
    throw;
  }
}

bool PgInstanceLock::take_from(const LeaseFacts& dead) {
  if (mechanism_ != Mechanism::kLease || dead.holder.empty()) return false;
  held_ = take_lease(&dead);
  return held_;
}

LeaseFacts PgInstanceLock::facts() {
  LeaseFacts facts;
  if (mechanism_ != Mechanism::kLease) return facts;
  const std::string proof =
      proof_columns_
          ? "holder_host, holder_host_id, holder_pid::text, holder_pid_start::text, "
            "coalesce(direct_connection, false), backend_pid IS NOT NULL AND NOT EXISTS (SELECT "
            "1 FROM pg_stat_activity a WHERE a.pid = l.backend_pid AND (a.backend_start IS NULL "
            "OR a.backend_start = l.backend_start)), extract(epoch FROM last_cycle_at)::text"
          : "NULL::text, NULL::text, NULL::text, NULL::text, false, false, NULL::text";
  const auto rows = session_.exec(
      "SELECT holder, epoch::text, to_char(expires_at AT TIME ZONE 'UTC', "
      "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), expires_at <= now(), " +
          proof + " FROM " + pg_dialect().quote(lease_.table) + " l WHERE name = $1",
      {lease_.name()});
  if (rows.rows() == 0) {
    facts.expired = true;
    return facts;
  }
  facts.exists = true;
  facts.holder = rows.text(0, 0);
  facts.epoch = rows.integer(0, 1);
  facts.expires_at = rows.text(0, 2);
  facts.expired = rows.text(0, 3) == "t";
  facts.process.host = rows.optional_text(0, 4).value_or("");
  facts.process.host_id = rows.optional_text(0, 5).value_or("");
  if (!rows.is_null(0, 6)) facts.process.pid = rows.integer(0, 6);
  if (!rows.is_null(0, 7)) facts.process.start_ticks = rows.integer(0, 7);
  facts.direct_connection = rows.text(0, 8) == "t";
  facts.backend_gone = rows.text(0, 9) == "t";
  facts.last_cycle = from_unix_text(rows.optional_text(0, 10));
  if (facts.last_cycle) last_cycle_ = facts.last_cycle;
  return facts;
}

void PgInstanceLock::record_cycle(std::chrono::system_clock::time_point started) {
  if (mechanism_ != Mechanism::kLease || !held_ || !proof_columns_) return;
  const double seconds = std::chrono::duration<double>(started.time_since_epoch()).count();
  session_.exec(
      "UPDATE " + pg_dialect().quote(lease_.table) +
          " SET last_cycle_at = to_timestamp($4::double precision) WHERE name = $1 AND "
          "holder = $2 AND epoch = $3::bigint",
      {lease_.name(), lease_.holder, std::to_string(epoch_), fmt::format("{:.6f}", seconds)});
  last_cycle_ = started;
}

bool PgInstanceLock::renew_lease() {
  std::vector<std::optional<std::string>> params = {
      lease_.name(), lease_.holder, std::to_string(epoch_), interval_text(lease_.ttl)};
  std::string proof;
  if (proof_columns_) {
    // The server process may have changed (a reconnect, a pooler): record the one renewing.
    proof =
        ", backend_pid = pg_backend_pid(), backend_start = CASE WHEN l.backend_pid = "
        "pg_backend_pid() THEN l.backend_start ELSE " +
        std::string(kBackendStart) + " END, direct_connection = pg_backend_pid() = $5::int";
    params.push_back(std::to_string(session_.announced_backend_pid()));
  }
  return session_
             .exec("UPDATE " + pg_dialect().quote(lease_.table) +
                       " AS l SET heartbeat_at = now(), expires_at = now() + $4::interval" + proof +
                       " WHERE name = $1 AND holder = $2 AND epoch = $3::bigint",
                   params)
             .affected() == 1;
}

int PgInstanceLock::backend_pid() {
  return static_cast<int>(session_.exec("SELECT pg_backend_pid()").integer(0, 0));
}

void PgInstanceLock::refuse_pooler(int first_pid, int second_pid) const {
  throw ConfigError(
      "the connection goes through a transaction pooler (the server process changed from " +
      std::to_string(first_pid) + " to " + std::to_string(second_pid) +
      " between transactions), where a session advisory lock cannot keep one instance active, "
      "and the lease table " +
      lease_.table.display() + " cannot be used (" + why_no_lease_ +
      "). HINT: as a role that may, run " + lease_table_ddl() +
      " GRANT SELECT, INSERT, UPDATE ON " + pg_dialect().quote(lease_.table) +
      " TO <role>; or connect without the pooler");
}

bool PgInstanceLock::take_advisory() {
  // Behind a transaction pooler consecutive transactions may run in different server processes:
  // a session lock taken in one would stay there, held for nobody.
  int first = backend_pid();
  for (int probe = 0; probe < 2; ++probe) {
    const int next = backend_pid();
    if (next != first) refuse_pooler(first, next);
  }
  const auto row = session_.exec(std::string("SELECT pg_try_advisory_lock(") + kLockClass +
                                     ", hashtext($1)), pg_backend_pid()",
                                 {lease_.name()});
  advisory_pid_ = static_cast<int>(row.integer(0, 1));
  if (advisory_pid_ != first) refuse_pooler(first, advisory_pid_);
  advisory_generation_ = session_.generation();
  return row.text(0, 0) == "t";
}

bool PgInstanceLock::keep_alive() {
  if (!held_) return false;
  if (mechanism_ == Mechanism::kFollower) return true;
  if (mechanism_ == Mechanism::kLease) {
    try {
      held_ = renew_lease();
      renewal_due_ = false;
    } catch (const DatabaseError& e) {
      // The workers' batches hold the row (FOR SHARE) for longer than the lock timeout: the
      // lease is still ours (a takeover would have to wait as well); renew it a moment later.
      if (e.cause() != ErrorCause::kLockTimeout) throw;
      renewal_due_ = true;
    }
    return held_;
  }
  // A new connection lost the session lock: take it again.
  if (session_.generation() != advisory_generation_) {
    held_ = take_advisory();
    return held_;
  }
  const int pid = backend_pid();
  if (pid != advisory_pid_) refuse_pooler(advisory_pid_, pid);
  return true;
}

void PgInstanceLock::prove_held() {
  if (mechanism_ == Mechanism::kFollower) {
    const auto rows = session_.exec("SELECT 1 FROM " + pg_dialect().quote(lease_.table) +
                                        " WHERE name = $1 AND holder = $2 AND epoch = $3::bigint "
                                        "FOR SHARE",
                                    {lease_.name(), lease_.holder, std::to_string(epoch_)});
    if (rows.rows() == 0) {
      throw DatabaseError(ErrorCause::kLeaseLost, std::string(sqlstate::kLeaseLost),
                          "the lease of " + lease_.target + " (epoch " + std::to_string(epoch_) +
                              ") was taken over by another instance");
    }
    return;
  }
  if (!held_) {
    throw DatabaseError(ErrorCause::kLeaseLost, std::string(sqlstate::kLeaseLost),
                        "the instance lock is not held");
  }
  if (mechanism_ == Mechanism::kLease) {
    if (!renew_lease()) {
      held_ = false;
      throw DatabaseError(ErrorCause::kLeaseLost, std::string(sqlstate::kLeaseLost),
                          "the lease of " + lease_.target + " (epoch " + std::to_string(epoch_) +
                              ") was taken over by another instance");
    }
    return;
  }
  const int pid = backend_pid();
  if (pid != advisory_pid_ || session_.generation() != advisory_generation_) {
    refuse_pooler(advisory_pid_, pid);
  }
}

void PgInstanceLock::unlock() noexcept {
  if (!held_ || mechanism_ == Mechanism::kFollower) return;
  held_ = false;
  try {
    if (!session_.connected()) return;  // the lease expires; a session lock died with it
    if (mechanism_ == Mechanism::kLease) {
      session_.exec("UPDATE " + pg_dialect().quote(lease_.table) +
                        " SET expires_at = now(), heartbeat_at = now() WHERE name = $1 AND holder "
                        "= $2 AND epoch = $3::bigint",
                    {lease_.name(), lease_.holder, std::to_string(epoch_)});
    } else if (session_.generation() == advisory_generation_) {
      // Only from the server process that holds it (else the server logs "you don't own a lock").
      session_.exec(std::string("SELECT CASE WHEN pg_backend_pid() = $2::int THEN "
                                "pg_advisory_unlock(") +
                        kLockClass + ", hashtext($1)) END",
                    {lease_.name(), std::to_string(advisory_pid_)});
    }
  } catch (...) {
    // Broken session: the lease expires on its own, a session lock dies with the session.
  }
}

std::chrono::milliseconds PgInstanceLock::keep_alive_interval() const {
  if (mechanism_ != Mechanism::kLease) return std::chrono::milliseconds(0);
  return renewal_due_ ? std::min<std::chrono::milliseconds>(lease_.ttl / 2, std::chrono::seconds(1))
                      : lease_.ttl / 2;
}

std::string PgInstanceLock::share_token() const {
  if (mechanism_ != Mechanism::kLease || !held_) return {};
  return lease_token(epoch_);
}

void PgInstanceLock::follow(const std::string& token) {
  epoch_ = follow_token(token);
  mechanism_ = Mechanism::kFollower;
  held_ = true;
}

std::string PgInstanceLock::describe() const {
  switch (mechanism_) {
    case Mechanism::kLease:
      return "lease in " + lease_.table.display() + " (epoch " + std::to_string(epoch_) + ")";
    case Mechanism::kAdvisory:
      return "session advisory lock (server process " + std::to_string(advisory_pid_) + ")";
    case Mechanism::kFollower:
      return "a worker of the lease in " + lease_.table.display() + " (epoch " +
             std::to_string(epoch_) + ")";
    case Mechanism::kUndecided:
      break;
  }
  return "no lock yet";
}

}  // namespace batch_cleanup::store::postgres
