// Leadership: who holds the instance lock, whether a holder is provably dead, and the daemon's
// leader keeping the lock between its cycles.
#include "batch_cleanup/errors.h"
#include "engine/engine_session.h"
#include "engine/engine_support.h"
#include "log/logger.h"
#include "util/process_identity.h"

namespace batch_cleanup::engine {

std::string describe_holder(const store::LeaseFacts& lease) {
  if (!lease.exists) return "an instance that did not say who it is";
  std::string text = lease.holder;
  if (lease.epoch > 0) text += " (epoch " + std::to_string(lease.epoch) + ")";
  if (!lease.expires_at.empty()) text += " until " + lease.expires_at;
  return text;
}

std::string dead_holder_proof(const store::LeaseFacts& lease) {
  if (!lease.exists) return {};
  if (util::process_provably_gone(lease.process)) {
    return "its process " + std::to_string(lease.process.pid) + " on this host no longer runs";
  }
  // Behind a pooler the server process outlives its client: only a direct connection's proves.
  if (lease.direct_connection && lease.backend_gone) {
    return "the server process of its direct connection no longer exists";
  }
  return {};
}

bool EngineSession::take_lock(store::LeaseFacts& seen) {
  auto& lock = store_->instance_lock();
  if (with_retries([&] { return lock.try_lock(); })) return true;
  seen = with_retries([&] { return lock.facts(); });
  if (seen.expired) {
    // Released or expired between the two statements.
    if (with_retries([&] { return lock.try_lock(); })) return true;
    seen = with_retries([&] { return lock.facts(); });
  }
  const std::string proof = dead_holder_proof(seen);
  if (proof.empty()) return false;
  if (!with_retries([&] { return lock.take_from(seen); })) return false;
  // Fencing stays the safety net: a holder wrongly presumed dead loses at its next batch.
  logging::logger()->warn("took over the instance lock from {}: {}", describe_holder(seen), proof);
  return true;
}

bool EngineSession::lead(store::LeaseFacts& lease) {
  auto& lock = store_->instance_lock();
  if (lock_held_) {
    // Renewed at every look (every lease_ttl / 3 in the daemon's loop), not only every
    // lease_ttl / 2: a late wake-up must not let a live leader's lease run out.
    bool held = false;
    try {
      held = with_retries([&] { return lock.keep_alive(); });
    } catch (const DatabaseError& e) {
      // Taken over while this instance reconnected.
      if (e.cause() != ErrorCause::kLeaseLost) throw;
    }
    if (held) {
      lock_renewed_ = Clock::now();
      lease = with_retries([&] { return lock.facts(); });
      return true;
    }
    lock_held_ = false;
    logging::logger()->warn("{}: standing by", kTakenOver);
  }
  lock_held_ = take_lock(lease);
  if (lock_held_) {
    lock_renewed_ = Clock::now();
    logging::logger()->info("leading: holds the instance lock ({})", lock.describe());
    lease = with_retries([&] { return lock.facts(); });
  }
  warn_once_about_lock();
  return lock_held_;
}

void EngineSession::resign() noexcept {
  if (!lock_held_) return;
  store_->instance_lock().unlock();
  lock_held_ = false;
}

std::optional<std::chrono::system_clock::time_point> EngineSession::last_cycle() const {
  return store_->instance_lock().last_cycle();
}

}  // namespace batch_cleanup::engine
