// The lock that lets one instance at a time clean a pair of tables.
#pragma once

namespace batch_cleanup::store {

class InstanceLock {
 public:
  virtual ~InstanceLock() = default;
  // Tries, without waiting, to take the lock. False when another instance holds it. A lock tied
  // to the connection is lost with it: take it again after a reconnect. Throws DatabaseError.
  virtual bool try_lock() = 0;
  // Releases the lock if held. Never throws.
  virtual void unlock() noexcept = 0;
};

}  // namespace batch_cleanup::store
