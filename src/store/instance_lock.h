// The lock that lets one instance at a time clean a pair of tables.
#pragma once

#include <chrono>
#include <string>

namespace batch_cleanup::store {

class InstanceLock {
 public:
  virtual ~InstanceLock() = default;
  // Tries, without waiting, to take the lock. False when another instance holds it. Throws
  // DatabaseError, or ConfigError when no lock can keep one instance active here (a session
  // lock behind a transaction pooler).
  virtual bool try_lock() = 0;
  // Releases the lock if held. Never throws.
  virtual void unlock() noexcept = 0;
  // While held: renews a lock that expires (a lease), and re-takes one that died with a lost
  // connection. False when another instance holds it now. Throws DatabaseError.
  virtual bool keep_alive() = 0;
  // How often keep_alive() must be called while the lock is held; zero when never.
  virtual std::chrono::milliseconds keep_alive_interval() const = 0;
  // How the lock works, for logs: "lease ... epoch 3", "advisory lock", "lock file ...".
  virtual std::string describe() const = 0;
  // Advice for the operator about the lock chosen (a fallback and why); empty when none.
  virtual std::string warning() const { return {}; }

  // The workers of a cycle (each on a store of its own) prove this store's lock in their batch
  // transactions. share_token(): while held, what they need for that; empty when the lock
  // cannot be shared (then a cycle runs on one connection). follow(token), on a worker's store:
  // its batches prove the cycle's lock `token` instead of holding one of their own (try_lock,
  // keep_alive and unlock are then not used).
  virtual std::string share_token() const { return {}; }
  virtual void follow(const std::string& token) { (void)token; }
};

}  // namespace batch_cleanup::store
