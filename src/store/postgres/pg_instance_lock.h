// The one-active-instance lock on PostgreSQL: a lease, one row of the lease table per target
// (holder, epoch, heartbeat, expiry), which needs no session and so works through any pooler.
// Every batch transaction renews the lease in its first statement and so proves, under the row's
// lock until it commits, that the lease is still this instance's (fencing). Where the lease
// table cannot be used (it does not exist and the role may not create it, or may not write it),
// a session-level advisory lock is the fallback, refused behind a transaction pooler.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "batch_cleanup/config.h"
#include "store/lease_holder.h"
#include "store/postgres/pg_session.h"

namespace batch_cleanup::store::postgres {

class PgInstanceLock final : public LeaseLock {
 public:
  // `target` ("schema.table" of the pending table, as the server resolved it) is read when the
  // lock is taken (the store fills it in inspect()).
  PgInstanceLock(PgSession& session, const CleanupConfig& config, const std::string& target)
      : LeaseLock(config, target), session_(session) {}

  bool try_lock() override;
  void unlock() noexcept override;
  bool keep_alive() override;
  std::chrono::milliseconds keep_alive_interval() const override;
  std::string describe() const override;
  std::string warning() const override { return warning_; }
  // "holder epoch" of a held lease; empty for the advisory fallback (a session lock cannot be
  // proven from another session).
  std::string share_token() const override;
  // Batches then check, with FOR SHARE on the lease row, that the cycle's lease still has this
  // holder and epoch: a takeover (an UPDATE of that row) waits for them, and fences the next.
  void follow(const std::string& token) override;
  LeaseFacts facts() override;
  bool take_from(const LeaseFacts& dead) override;
  void record_cycle(std::chrono::system_clock::time_point started) override;
  std::optional<std::chrono::system_clock::time_point> last_cycle() const override {
    return last_cycle_;
  }

  // Also throws ConfigError when the advisory fallback finds itself behind a transaction pooler.
  void prove_held() override;
  std::string lease_table_ddl() const override;

 private:
  enum class Mechanism { kUndecided, kLease, kAdvisory, kFollower };

  // The lease table exists or could be created now; false when the role may not.
  bool lease_table_usable(std::string& why_not);
  // Takes the lease when it expired, or (with `dead`) when it is still that holder's epoch.
  bool take_lease(const LeaseFacts* dead = nullptr);
  // The lease table has the columns that record the holder's process and server process and
  // the last cycle (a table created before them, which the role may not alter, has not).
  bool has_proof_columns();
  bool renew_lease();
  bool take_advisory();
  // The server process of a transaction of its own.
  int backend_pid();
  [[noreturn]] void refuse_pooler(int first_pid, int second_pid) const;

  PgSession& session_;
  Mechanism mechanism_ = Mechanism::kUndecided;
  std::string why_no_lease_;
  std::string warning_;
  bool held_ = false;
  long long epoch_ = 0;
  // A renewal waited too long for the workers' row locks: try again soon, not in ttl / 2.
  bool renewal_due_ = false;
  bool proof_columns_ = false;
  std::optional<std::chrono::system_clock::time_point> last_cycle_;
  int advisory_pid_ = 0;         // the server process that holds the advisory lock
  int advisory_generation_ = 0;  // the session's connection it was taken on
};

}  // namespace batch_cleanup::store::postgres
