// The engine's connection: connecting with retries, backoff, and the instance lock.
#include <random>

#include "batch_cleanup/errors.h"
#include "config/duration.h"
#include "engine/cleanup_engine.h"
#include "engine/engine_support.h"
#include "log/logger.h"

namespace batch_cleanup::engine {

std::chrono::milliseconds CleanupEngine::backoff_delay(int attempt) const {
  thread_local std::mt19937 generator{std::random_device{}()};
  const double base = static_cast<double>(config_.retry_base_delay.count());
  const double cap = static_cast<double>(config_.retry_max_delay.count());
  const double ceiling = std::min(cap, base * static_cast<double>(1LL << std::min(attempt, 20)));
  // "Equal jitter": half fixed, half random, so attempts never bunch up at zero.
  std::uniform_real_distribution<double> jitter(ceiling / 2, ceiling);
  return std::chrono::milliseconds(static_cast<long long>(jitter(generator)));
}

void CleanupEngine::connect_with_retry() {
  connect_store(*store_, connected_);
  flush_pending_history();
}

void CleanupEngine::connect_store(store::Store& store, bool& connected) {
  const int attempts = 1 + std::max(0, config_.retries);
  for (int attempt = 0; attempt < attempts; ++attempt) {
    try {
      store.connect();
      connected = true;
      logging::logger()->debug("connected to {}", store.backend_name());
      return;
    } catch (const DatabaseError& e) {
      connected = false;
      if (e.kind() != ErrorKind::kRetryable) throw;
      if (attempt + 1 == attempts) {
        throw ConnectionError("database unreachable after " + std::to_string(attempts) +
                              " attempt(s): " + e.what());
      }
      const auto delay = backoff_delay(attempt);
      logging::logger()->warn("connection attempt {}/{} failed: {}; retrying in {}", attempt + 1,
                              attempts, e.what(), config::format_duration(delay));
      if (stop_->wait_for(delay)) {
        throw ConnectionError(std::string("stopped while waiting to reconnect: ") + e.what());
      }
    }
  }
}

bool CleanupEngine::acquire_instance_lock(CycleReport& report) {
  bool announced = false;
  auto& lock = store_->instance_lock();
  while (true) {
    store::LeaseFacts seen;
    lock_held_ = take_instance_lock(seen);
    if (!lock_warned_ && !lock.warning().empty()) {
      logging::logger()->warn("{}", lock.warning());
      lock_warned_ = true;
    }
    if (lock_held_) {
      lock_renewed_ = Clock::now();
      logging::logger()->debug("cycle {}: holds the instance lock: {}", report.cycle_id,
                               lock.describe());
      if (announced) logging::logger()->info("cycle {}: got the instance lock", report.cycle_id);
      return true;
    }
    if (!config_.wait_lock) {
      report.skipped_by_lock = true;
      report.skipped_reason = "lease_held";
      report.lease_holder = seen.holder;
      report.lease_epoch = seen.epoch;
      report.lease_expires_at = seen.expires_at;
      logging::logger()->warn(
          "cycle {} skipped: another instance holds the lock for these tables: {} (pass "
          "--wait-lock to wait for it)",
          report.cycle_id, describe_holder(seen));
      return false;
    }
    if (!announced) {
      logging::logger()->info(
          "cycle {}: another instance holds the lock for these tables: {}; waiting",
          report.cycle_id, describe_holder(seen));
      announced = true;
    }
    if (stop_->wait_for(kLockPollInterval)) {
      report.interrupted = true;
      return false;
    }
  }
}

bool CleanupEngine::keep_lock(CycleReport& report, bool now) {
  if (!lock_held_) return true;
  auto& lock = store_->instance_lock();
  const auto interval = lock.keep_alive_interval();
  if (!now && (interval.count() <= 0 || Clock::now() - lock_renewed_ < interval)) return true;
  const bool held = on_connection(connected_, [&] { return lock.keep_alive(); });
  if (held) {
    lock_renewed_ = Clock::now();
    return true;
  }
  lock_held_ = false;
  const std::string warning = "the instance lock was taken over by another instance: cycle " +
                              report.cycle_id + " ends here";
  logging::logger()->warn("{}", warning);
  report.warnings.push_back(warning);
  report.interrupted = true;
  return false;
}

bool CleanupEngine::wait_holding_lock(Clock::duration duration, CycleReport& report,
                                      bool& lock_lost) {
  const auto interval =
      lock_held_ ? store_->instance_lock().keep_alive_interval() : std::chrono::milliseconds(0);
  const auto end = Clock::now() + duration;
  while (Clock::now() < end) {
    auto chunk = end - Clock::now();
    if (interval.count() > 0) chunk = std::min<Clock::duration>(chunk, interval / 2);
    if (stop_->wait_for(chunk)) return true;
    if (!keep_lock(report)) {
      lock_lost = true;
      return false;
    }
  }
  return false;
}

bool CleanupEngine::restore_session_state(CycleReport& report) {
  if (lock_held_ && !keep_lock(report, /*now=*/true)) return false;
  if (!config_.archive_table.empty()) {
    on_connection(connected_, [&] { prepare_archive(*store_, report.cycle_id); });
  }
  return true;
}

}  // namespace batch_cleanup::engine
