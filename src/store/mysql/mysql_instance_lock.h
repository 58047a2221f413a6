// The one-active-instance lock on MySQL/MariaDB: a lease, one row of the lease table per target
// (holder, epoch, heartbeat, expiry), as on PostgreSQL. Every batch transaction renews the lease
// in its first statement and so proves, under the row's lock until it commits, that the lease
// is still this instance's (fencing). Not GET_LOCK(): it is node-local on Galera.
#pragma once

#include <chrono>
#include <string>

#include "batch_cleanup/config.h"
#include "store/lease_holder.h"
#include "store/mysql/mysql_session.h"

namespace batch_cleanup::store::mysql {

class MysqlInstanceLock final : public LeaseLock {
 public:
  // `target` (schema.table of the pending table) is read when the lock is taken.
  MysqlInstanceLock(MysqlSession& session, const CleanupConfig& config, const std::string& target)
      : LeaseLock(config, target), session_(session) {}

  bool try_lock() override;
  void unlock() noexcept override;
  bool keep_alive() override;
  std::chrono::milliseconds keep_alive_interval() const override { return lease_.ttl / 2; }
  std::string describe() const override;

  void prove_held() override;
  std::string lease_table_ddl() const override;

 private:
  bool renew();

  MysqlSession& session_;
  bool held_ = false;
  bool created_ = false;
  long long epoch_ = 0;
};

}  // namespace batch_cleanup::store::mysql
