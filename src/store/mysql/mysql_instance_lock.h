// The one-active-instance lock on MySQL/MariaDB: a lease, one row of the lease table per target
// (holder, epoch, heartbeat, expiry), as on PostgreSQL. Every batch transaction renews the lease
// in its first statement and so proves, under the row's lock until it commits, that the lease
// is still this instance's (fencing). Not GET_LOCK(): it is node-local on Galera. The workers of
// a cycle (--workers) follow the lease: their batches read its row LOCK IN SHARE MODE, so a
// takeover waits for them and fences the next.
#pragma once

#include <chrono>
#include <string>

#include "batch_cleanup/config.h"
#include "store/batch_types.h"
#include "store/lease_holder.h"
#include "store/mysql/mysql_session.h"

namespace batch_cleanup::store::mysql {

class MysqlInstanceLock final : public LeaseLock {
 public:
  // `target` (schema.table of the pending table) is read when the lock is taken.
  MysqlInstanceLock(MysqlSession& session, const CleanupConfig& config, const std::string& target);

  bool try_lock() override;
  void unlock() noexcept override;
  bool keep_alive() override;
  std::chrono::milliseconds keep_alive_interval() const override;
  std::string describe() const override;
  // "holder epoch" of a held lease.
  std::string share_token() const override;
  void follow(const std::string& token) override;

  // Also names the batch in the lease row (last_batch), which commits or rolls back with it.
  void prove_held() override;
  std::string lease_table_ddl() const override;

  // After a batch's COMMIT was in doubt and the session connected again: whether the lease row
  // names that batch (committed) or an earlier one (rolled back), read with a shared lock, so
  // that a COMMIT still running on the server ends first. kUnknown when the row has another
  // holder or epoch now, stays locked, or the table has no last_batch column.
  InDoubtOutcome::State batch_outcome();

 private:
  bool renew(const std::string* batch = nullptr);
  // Adds the columns a table created by an earlier version lacks; false when the role may not.
  bool add_missing_columns();

  MysqlSession& session_;
  // "SET STATEMENT innodb_lock_wait_timeout=L FOR ": how long the lease's statements wait for
  // the row (a worker's batch holds it shared while it runs).
  std::string wait_prefix_;
  bool follower_ = false;
  // A renewal waited too long for the workers' shared locks: try again soon, not in ttl / 2.
  bool renewal_due_ = false;
  bool held_ = false;
  bool created_ = false;
  long long epoch_ = 0;
  bool marker_column_ = false;  // the table has last_batch
  long long batches_ = 0;       // batches fenced by this lock object
  std::string last_batch_;      // the token the last fenced batch wrote
};

}  // namespace batch_cleanup::store::mysql
