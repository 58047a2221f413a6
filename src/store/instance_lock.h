// The lock that lets one instance at a time clean a pair of tables.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "util/process_identity.h"

namespace batch_cleanup::store {

// What the lock's record says about its holder (facts; the engine decides what they prove).
struct LeaseFacts {
  bool exists = false;  // a holder was ever recorded
  std::string holder;   // "host:pid:random" of the instance
  long long epoch = 0;
  std::string expires_at;  // ISO-8601 UTC; empty when the lock does not expire (a lock file)
  bool expired = false;    // free to take: expired, released, or not held by anyone
  // The holder's process (for a same-host proof); empty host_id when not recorded.
  util::ProcessIdentity process;
  // The holder's connection went straight to the server (no pooler between), and the server
  // process it last renewed from no longer exists (or is another one with the same pid).
  bool direct_connection = false;
  bool backend_gone = false;
  // When the last cycle that completed under this lock started (any holder); empty when none.
  std::optional<std::chrono::system_clock::time_point> last_cycle;
};

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

  // The lock's record: who holds it, until when, and what proves it. Throws DatabaseError.
  virtual LeaseFacts facts() { return {}; }
  // Takes the lock from `dead` (facts() of a holder the engine found provably dead), if the
  // record still names that holder and epoch. False when it changed. Throws DatabaseError.
  virtual bool take_from(const LeaseFacts& dead) {
    (void)dead;
    return false;
  }
  // While held: records that a cycle that started at `started` completed (the schedule of
  // every instance follows it). Throws DatabaseError.
  virtual void record_cycle(std::chrono::system_clock::time_point started) { (void)started; }
  // The last completed cycle: as the record said when last read (try_lock, facts()), or as
  // this instance recorded it since.
  virtual std::optional<std::chrono::system_clock::time_point> last_cycle() const { return {}; }
};

}  // namespace batch_cleanup::store
