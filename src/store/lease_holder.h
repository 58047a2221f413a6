// Who holds a lease and which: what the instance locks of the SQL stores (a lease row each)
// share.
#pragma once

#include <chrono>
#include <string>

#include "batch_cleanup/config.h"
#include "config/identifier.h"
#include "store/instance_lock.h"

namespace batch_cleanup::store {

// "host:pid:random", made once per lock object.
std::string lease_holder_id();

// The lease an instance lock keeps: one row of the lease table per target.
struct Lease {
  // `target` (schema.table of the pending table, as the server resolved it) is read when the
  // lock is taken (the store fills it in inspect()).
  Lease(const CleanupConfig& config, const std::string& pending_target);

  // The row's name: "batch_cleanup:" and the target.
  std::string name() const { return "batch_cleanup:" + target; }

  config::QualifiedName table;  // --lease-table
  std::chrono::milliseconds ttl;
  const std::string& target;
  std::string holder;  // lease_holder_id(), this instance
};

// The instance lock of a SQL store: the lease row, renewed in every batch transaction.
class LeaseLock : public InstanceLock {
 public:
  // Inside a batch's transaction, before it deletes: renews the lease, whose row stays locked
  // until the transaction ends, so that no other instance can take over meanwhile (fencing).
  // Throws DatabaseError (kLeaseLost) when another instance holds it now.
  virtual void prove_held() = 0;
  // The statement that creates the lease table (for the operator, in messages and the README).
  virtual std::string lease_table_ddl() const = 0;

 protected:
  LeaseLock(const CleanupConfig& config, const std::string& pending_target)
      : lease_(config, pending_target) {}

  // The share_token() of this holder's lease of `epoch`: "holder epoch".
  std::string lease_token(long long epoch) const;
  // follow(token): the lease's holder becomes the token's; returns its epoch. Throws
  // std::invalid_argument for a text that is not a token.
  long long follow_token(const std::string& token);

  Lease lease_;
};

}  // namespace batch_cleanup::store
