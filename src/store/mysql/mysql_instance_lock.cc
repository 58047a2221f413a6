#include "store/mysql/mysql_instance_lock.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "batch_cleanup/errors.h"
#include "store/lease_holder.h"
#include "store/mysql/mysql_dialect.h"
#include "store/mysql/mysql_errors.h"

namespace batch_cleanup::store::mysql {
namespace {

// The lease's expiry `ttl` from now, on the server's clock.
std::string expiry_in(std::chrono::milliseconds ttl) {
  return "utc_timestamp(6) + INTERVAL " + std::to_string(ttl.count() * 1000) + " MICROSECOND";
}

// Columns added after the first version of the lease table: name and type.
constexpr std::pair<const char*, const char*> kLaterColumns[] = {
    {"last_batch", "VARCHAR(255) NULL"},
};

// How long batch_outcome() waits, in all, for a COMMIT still running on the server.
constexpr int kOutcomeAttempts = 10;

}  // namespace

MysqlInstanceLock::MysqlInstanceLock(MysqlSession& session, const CleanupConfig& config,
                                     const std::string& target)
    : LeaseLock(config, target),
      session_(session),
      wait_prefix_(
          "SET STATEMENT innodb_lock_wait_timeout=" +
          std::to_string(std::max<long long>(1, (config.lock_timeout.count() + 999) / 1000)) +
          " FOR ") {}

std::string MysqlInstanceLock::lease_table_ddl() const {
  return "CREATE TABLE IF NOT EXISTS " + mysql_dialect().quote(lease_.table) +
         " (name VARCHAR(255) NOT NULL PRIMARY KEY, holder VARCHAR(255) NOT NULL, epoch BIGINT "
         "NOT NULL, acquired_at DATETIME(6) NOT NULL, heartbeat_at DATETIME(6) NOT NULL, "
         "expires_at DATETIME(6) NOT NULL, last_batch VARCHAR(255) NULL) ENGINE=InnoDB";
}

bool MysqlInstanceLock::add_missing_columns() {
  const auto present = session_.exec(
      "SELECT count(*) FROM information_schema.columns WHERE table_schema = "
      "coalesce(NULLIF(?, ''), database()) AND table_name = ? AND column_name = 'last_batch'",
      {lease_.table.schema, lease_.table.name});
  if (present.integer(0, 0) > 0) return true;
  std::string alter = "ALTER TABLE " + mysql_dialect().quote(lease_.table);
  const char* separator = " ";
  for (const auto& [name, type] : kLaterColumns) {
    alter += std::string(separator) + "ADD COLUMN IF NOT EXISTS " + name + " " + type;
    separator = ", ";
  }
  try {
    session_.exec(alter);
    return true;
  } catch (const DatabaseError& e) {
    if (e.cause() == ErrorCause::kPrivilege) return false;  // in-doubt batches stay unknown
    throw;
  }
}

bool MysqlInstanceLock::try_lock() {
  if (!created_) {
    // Created on first use; a role without CREATE needs it created in advance.
    const bool exists = !session_
                             .exec(
                                 "SELECT 1 FROM information_schema.tables WHERE table_schema = "
                                 "coalesce(NULLIF(?, ''), database()) AND table_name = ?",
                                 {lease_.table.schema, lease_.table.name})
                             .empty();
    if (!exists) session_.exec(lease_table_ddl());
    marker_column_ = add_missing_columns();
    created_ = true;
  }
  const std::string table = mysql_dialect().quote(lease_.table);
  try {
    // A first lease, or an expired one taken over (epoch + 1); the holder's batch keeps the row
    // locked while it runs: no waiting for it.
    const auto inserted = session_.exec(
        "SET STATEMENT innodb_lock_wait_timeout=0 FOR INSERT IGNORE INTO " + table +
            " (name, holder, epoch, acquired_at, heartbeat_at, expires_at) VALUES (?, ?, 1, "
            "utc_timestamp(6), utc_timestamp(6), " +
            expiry_in(lease_.ttl) + ")",
        {lease_.name(), lease_.holder});
    if (inserted.affected != 1) {
      const auto taken = session_.exec(
          "SET STATEMENT innodb_lock_wait_timeout=0 FOR UPDATE " + table +
              " SET holder = ?, epoch = epoch + 1, acquired_at = utc_timestamp(6), heartbeat_at = "
              "utc_timestamp(6), expires_at = " +
              expiry_in(lease_.ttl) + " WHERE name = ? AND expires_at <= utc_timestamp(6)",
          {lease_.holder, lease_.name()});
      if (taken.affected != 1) return held_ = false;
    }
    epoch_ = session_
                 .exec("SELECT epoch FROM " + table + " WHERE name = ? AND holder = ?",
                       {lease_.name(), lease_.holder})
                 .integer(0, 0);
    return held_ = epoch_ > 0;
  } catch (const DatabaseError& e) {
    if (e.cause() == ErrorCause::kLockTimeout) return held_ = false;
    throw;
  }
}

bool MysqlInstanceLock::renew(const std::string* batch) {
  std::vector<sql::Value> params;
  std::string sql = wait_prefix_ + "UPDATE " + mysql_dialect().quote(lease_.table) +
                    " SET heartbeat_at = utc_timestamp(6), expires_at = " + expiry_in(lease_.ttl);
  if (batch != nullptr) {
    sql += ", last_batch = ?";
    params.emplace_back(*batch);
  }
  sql += " WHERE name = ? AND holder = ? AND epoch = ?";
  params.emplace_back(lease_.name());
  params.emplace_back(lease_.holder);
  params.emplace_back(std::int64_t{epoch_});
  return session_.exec(sql, params).affected == 1;
}

bool MysqlInstanceLock::keep_alive() {
  if (follower_) return true;
  if (!held_) return false;
  try {
    held_ = renew();
    renewal_due_ = false;
  } catch (const DatabaseError& e) {
    // The workers' batches hold the row (shared) for longer than the lock timeout: the lease is
    // still ours (a takeover would have to wait as well); renew it a moment later.
    if (e.cause() != ErrorCause::kLockTimeout) throw;
    renewal_due_ = true;
  }
  return held_;
}

std::chrono::milliseconds MysqlInstanceLock::keep_alive_interval() const {
  if (follower_) return std::chrono::milliseconds(0);
  return renewal_due_ ? std::min<std::chrono::milliseconds>(lease_.ttl / 2, std::chrono::seconds(1))
                      : lease_.ttl / 2;
}

std::string MysqlInstanceLock::share_token() const {
  if (!held_ || follower_) return {};
  return lease_token(epoch_);
}

void MysqlInstanceLock::follow(const std::string& token) {
  epoch_ = follow_token(token);
  follower_ = true;
  held_ = true;
}

void MysqlInstanceLock::prove_held() {
  if (follower_) {
    // The cycle's lease, still this holder's epoch: a takeover (an UPDATE of the row) waits
    // until this batch ends, and the next batch sees it.
    const auto rows =
        session_.exec(wait_prefix_ + "SELECT 1 FROM " + mysql_dialect().quote(lease_.table) +
                          " WHERE name = ? AND holder = ? AND epoch = ? LOCK IN "
                          "SHARE MODE",
                      {lease_.name(), lease_.holder, std::int64_t{epoch_}});
    if (rows.empty()) {
      throw DatabaseError(ErrorCause::kLeaseLost, kLeaseLostCode,
                          "the lease of " + lease_.target + " (epoch " + std::to_string(epoch_) +
                              ") was taken over by another instance");
    }
    last_batch_.clear();  // a worker writes no marker: its batches in doubt stay unknown
    return;
  }
  std::string batch;
  if (marker_column_) {
    batch = lease_.holder + ":" + std::to_string(epoch_) + ":" + std::to_string(++batches_);
  }
  if (held_ && renew(marker_column_ ? &batch : nullptr)) {
    last_batch_ = std::move(batch);
    return;
  }
  held_ = false;
  throw DatabaseError(ErrorCause::kLeaseLost, kLeaseLostCode,
                      "the lease of " + lease_.target + " (epoch " + std::to_string(epoch_) +
                          ") was taken over by another instance");
}

void MysqlInstanceLock::unlock() noexcept {
  if (!held_ || follower_) return;
  held_ = false;
  try {
    if (!session_.connected()) return;  // the lease expires on its own
    session_.exec("UPDATE " + mysql_dialect().quote(lease_.table) +
                      " SET expires_at = utc_timestamp(6), heartbeat_at = utc_timestamp(6) WHERE "
                      "name = ? AND holder = ? AND epoch = ?",
                  {lease_.name(), lease_.holder, std::int64_t{epoch_}});
  } catch (...) {
    // The lease expires on its own.
  }
}

InDoubtOutcome::State MysqlInstanceLock::batch_outcome() {
  using State = InDoubtOutcome::State;
  const std::string batch = std::exchange(last_batch_, {});
  if (batch.empty() || !held_) return State::kUnknown;
  for (int attempt = 0; attempt < kOutcomeAttempts; ++attempt) {
    try {
      const auto row = session_.exec(
          "SET STATEMENT innodb_lock_wait_timeout=1 FOR SELECT holder, epoch, last_batch FROM " +
              mysql_dialect().quote(lease_.table) + " WHERE name = ? LOCK IN SHARE MODE",
          {lease_.name()});
      if (row.empty() || row.text(0, 0) != lease_.holder || row.integer(0, 1) != epoch_) {
        return State::kUnknown;  // taken over since: later batches wrote the row
      }
      return row.text(0, 2) == batch ? State::kCommitted : State::kRolledBack;
    } catch (const DatabaseError& e) {
      if (e.cause() != ErrorCause::kLockTimeout) throw;  // the COMMIT still holds the row
    }
  }
  return State::kUnknown;
}

std::string MysqlInstanceLock::describe() const {
  if (follower_) {
    return "a worker of the lease in " + lease_.table.display() + " (epoch " +
           std::to_string(epoch_) + ")";
  }
  return "lease in " + lease_.table.display() + " (epoch " + std::to_string(epoch_) + ")";
}

}  // namespace batch_cleanup::store::mysql
