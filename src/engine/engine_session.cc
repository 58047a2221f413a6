// The engine's session: connecting with retries and backoff, and keeping the instance lock
// through a cycle. Taking it and leadership: engine_leadership.cc.
#include "engine/engine_session.h"

#include <random>

#include "engine/engine_support.h"

namespace batch_cleanup::engine {

void report_lost_lock(CycleReport& report, std::string_view why, std::string_view then) {
  const std::string warning = fmt::format("{}: cycle {} ends here{}", why, report.cycle_id, then);
  logging::logger()->warn("{}", warning);
  report.warnings.push_back(warning);
  report.interrupted = true;
}

EngineSession::EngineSession(const CleanupConfig& config, std::unique_ptr<store::Store> store,
                             std::shared_ptr<StopFlag> stop)
    : config_(config), store_(std::move(store)), stop_(std::move(stop)) {}

std::chrono::milliseconds EngineSession::backoff_delay(int attempt) const {
  thread_local std::mt19937 generator{std::random_device{}()};
  const double base = static_cast<double>(config_.retry_base_delay.count());
  const double cap = static_cast<double>(config_.retry_max_delay.count());
  const double ceiling = std::min(cap, base * static_cast<double>(1LL << std::min(attempt, 20)));
  // "Equal jitter": half fixed, half random, so attempts never bunch up at zero.
  std::uniform_real_distribution<double> jitter(ceiling / 2, ceiling);
  return std::chrono::milliseconds(static_cast<long long>(jitter(generator)));
}

void EngineSession::connect() {
  connect_store(*store_, connected_);
  if (on_connect_) on_connect_();
}

void EngineSession::connect_store(store::Store& store, bool& connected) const {
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

void EngineSession::warn_once_about_lock() {
  auto& lock = store_->instance_lock();
  if (!lock_warned_ && !lock.warning().empty()) {
    logging::logger()->warn("{}", lock.warning());
    lock_warned_ = true;
  }
}

bool EngineSession::acquire_lock(CycleReport& report) {
  bool announced = false;
  auto& lock = store_->instance_lock();
  while (true) {
    store::LeaseFacts seen;
    lock_held_ = take_lock(seen);
    warn_once_about_lock();
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

bool EngineSession::renewal_due() const {
  const auto interval = store_->instance_lock().keep_alive_interval();
  return interval.count() > 0 && Clock::now() - lock_renewed_ >= interval;
}

bool EngineSession::keep_lock(CycleReport& report, bool now) {
  if (!lock_held_) return true;
  if (!now && !renewal_due()) return true;
  if (run([&] { return store_->instance_lock().keep_alive(); })) {
    lock_renewed_ = Clock::now();
    return true;
  }
  lost_lock(report, kTakenOver);
  return false;
}

bool EngineSession::keep_lock_with_retries(CycleReport& report) {
  if (with_retries([&] { return store_->instance_lock().keep_alive(); })) {
    lock_renewed_ = Clock::now();
    return true;
  }
  lost_lock(report, kTakenOver);
  return false;
}

void EngineSession::lost_lock(CycleReport& report, std::string_view why, std::string_view then) {
  lock_held_ = false;
  report_lost_lock(report, why, then);
}

bool EngineSession::wait_holding_lock(Clock::duration duration, CycleReport& report,
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

void EngineSession::release_after_cycle() noexcept {
  if (keep_between_cycles_) return;  // the daemon's leader keeps it between cycles
  resign();
}

}  // namespace batch_cleanup::engine
