#include "store/mysql/mysql_instance_lock.h"

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

}  // namespace

MysqlInstanceLock::MysqlInstanceLock(MysqlSession& session, const CleanupConfig& config,
                                     const std::string& target)
    : session_(session),
      table_(config::parse_table_name(config.lease_table, "lease table")),
      ttl_(config.lease_ttl),
      target_(target),
      holder_(lease_holder_id()) {}

std::string MysqlInstanceLock::lease_table_ddl() const {
  return "CREATE TABLE IF NOT EXISTS " + mysql_dialect().quote(table_) +
         " (name VARCHAR(255) NOT NULL PRIMARY KEY, holder VARCHAR(255) NOT NULL, epoch BIGINT "
         "NOT NULL, acquired_at DATETIME(6) NOT NULL, heartbeat_at DATETIME(6) NOT NULL, "
         "expires_at DATETIME(6) NOT NULL) ENGINE=InnoDB";
}

bool MysqlInstanceLock::try_lock() {
  if (!created_) {
    // Created on first use; a role without CREATE needs it created in advance.
    const bool exists = !session_
                             .exec(
                                 "SELECT 1 FROM information_schema.tables WHERE table_schema = "
                                 "coalesce(NULLIF(?, ''), database()) AND table_name = ?",
                                 {table_.schema, table_.name})
                             .empty();
    if (!exists) session_.exec(lease_table_ddl());
    created_ = true;
  }
  const std::string table = mysql_dialect().quote(table_);
  try {
    // A first lease, or an expired one taken over (epoch + 1); the holder's batch keeps the row
    // locked while it runs: no waiting for it.
    const auto inserted = session_.exec(
        "SET STATEMENT innodb_lock_wait_timeout=0 FOR INSERT IGNORE INTO " + table +
            " (name, holder, epoch, acquired_at, heartbeat_at, expires_at) VALUES (?, ?, 1, "
            "utc_timestamp(6), utc_timestamp(6), " +
            expiry_in(ttl_) + ")",
        {name(), holder_});
    if (inserted.affected != 1) {
      const auto taken = session_.exec(
          "SET STATEMENT innodb_lock_wait_timeout=0 FOR UPDATE " + table +
              " SET holder = ?, epoch = epoch + 1, acquired_at = utc_timestamp(6), heartbeat_at = "
              "utc_timestamp(6), expires_at = " +
              expiry_in(ttl_) + " WHERE name = ? AND expires_at <= utc_timestamp(6)",
          {holder_, name()});
      if (taken.affected != 1) return held_ = false;
    }
    epoch_ = session_
                 .exec("SELECT epoch FROM " + table + " WHERE name = ? AND holder = ?",
                       {name(), holder_})
                 .integer(0, 0);
    return held_ = epoch_ > 0;
  } catch (const DatabaseError& e) {
    if (e.cause() == ErrorCause::kLockTimeout) return held_ = false;
    throw;
  }
}

bool MysqlInstanceLock::renew() {
  return session_
             .exec("UPDATE " + mysql_dialect().quote(table_) +
                       " SET heartbeat_at = utc_timestamp(6), expires_at = " + expiry_in(ttl_) +
                       " WHERE name = ? AND holder = ? AND epoch = ?",
                   {name(), holder_, std::int64_t{epoch_}})
             .affected == 1;
}

bool MysqlInstanceLock::keep_alive() {
  if (!held_) return false;
  held_ = renew();
  return held_;
}

void MysqlInstanceLock::prove_held() {
  if (!held_ || !renew()) {
    held_ = false;
    throw DatabaseError(ErrorCause::kLeaseLost, kLeaseLostCode,
                        "the lease of " + target_ + " (epoch " + std::to_string(epoch_) +
                            ") was taken over by another instance");
  }
}

void MysqlInstanceLock::unlock() noexcept {
  if (!held_) return;
  held_ = false;
  try {
    if (!session_.connected()) return;  // the lease expires on its own
    session_.exec("UPDATE " + mysql_dialect().quote(table_) +
                      " SET expires_at = utc_timestamp(6), heartbeat_at = utc_timestamp(6) WHERE "
                      "name = ? AND holder = ? AND epoch = ?",
                  {name(), holder_, std::int64_t{epoch_}});
  } catch (...) {
    // The lease expires on its own.
  }
}

std::string MysqlInstanceLock::describe() const {
  return "lease in " + table_.display() + " (epoch " + std::to_string(epoch_) + ")";
}

}  // namespace batch_cleanup::store::mysql
