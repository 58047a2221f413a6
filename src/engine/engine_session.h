// The engine's session: its store's connection (connect with backoff, retries of an operation
// after a transient error) and the instance lock it holds (take, keep, wait holding it, lose
// it, lead and resign). Internal to src/engine; the cycle (CleanupEngine) and the batch loop
// use it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "batch_cleanup/config.h"
#include "batch_cleanup/errors.h"
#include "batch_cleanup/report.h"
#include "config/duration.h"
#include "engine/stop_flag.h"
#include "log/logger.h"
#include "store/store.h"

namespace batch_cleanup::engine {

// Says in the cycle's report and the log that the instance lock is lost: "<why>: cycle <id>
// ends here<then>"; the cycle is interrupted. The one place a lost lock is told.
void report_lost_lock(CycleReport& report, std::string_view why, std::string_view then = {});

// Runs `operation` on a connection (a session's or a worker's); a retryable DatabaseError also
// marks it for a reconnect (`connected` false).
template <typename Operation>
auto on_connection(bool& connected, Operation&& operation) -> decltype(operation()) {
  try {
    return operation();
  } catch (const DatabaseError& e) {
    if (e.kind() == ErrorKind::kRetryable) connected = false;
    throw;
  }
}

// Not thread-safe: the cycle's thread uses it (workers have stores of their own).
class EngineSession {
 public:
  using Clock = std::chrono::steady_clock;

  EngineSession(const CleanupConfig& config, std::unique_ptr<store::Store> store,
                std::shared_ptr<StopFlag> stop);

  store::Store& store() { return *store_; }
  const store::Store& store() const { return *store_; }
  StopFlag& stop() { return *stop_; }
  bool& connected() { return connected_; }

  // Called after every (re)connection of the session's store (the engine writes the history
  // records that waited for it).
  void set_on_connect(std::function<void()> on_connect) { on_connect_ = std::move(on_connect); }

  // Connects with exponential backoff and equal jitter: 1 + config.retries attempts. Throws
  // ConnectionError when every attempt failed, or as soon as a stop is requested.
  void connect();
  // The same for any store (a worker's).
  void connect_store(store::Store& store, bool& connected) const;
  std::chrono::milliseconds backoff_delay(int attempt) const;

  // Runs `operation` on the session's connection (see on_connection).
  template <typename Operation>
  auto run(Operation&& operation) -> decltype(operation()) {
    return on_connection(connected_, std::forward<Operation>(operation));
  }
  // Runs `operation`; on a retryable error reconnects (with backoff) and runs it again, up to
  // config.retries times. A session lock lost while reconnecting is a kLeaseLost DatabaseError.
  template <typename Operation>
  auto with_retries(Operation&& operation) -> decltype(operation());

  // The instance lock.
  bool lock_held() const { return lock_held_; }
  // Takes it, waiting with config.wait_lock. False: the cycle is skipped
  // (report.skipped_by_lock) or was stopped while waiting (report.interrupted).
  bool acquire_lock(CycleReport& report);
  // Renews it when due (and always with `now`). False when another instance holds it now: the
  // cycle ends (lost_lock).
  bool keep_lock(CycleReport& report, bool now = false);
  // Whether the lock's keep-alive interval has passed since it was last renewed.
  bool renewal_due() const;
  // Renews it on the coordinator's schedule, with retries (the workers' cycle). False when it
  // was lost (lost_lock told it).
  bool keep_lock_with_retries(CycleReport& report);
  // Waits `duration` while keeping the lock; true when a stop was requested meanwhile.
  // `lock_lost`: the wait ended because another instance took the lock.
  bool wait_holding_lock(Clock::duration duration, CycleReport& report, bool& lock_lost);
  // The lock is gone: held no more, and the cycle ends (report_lost_lock).
  void lost_lock(CycleReport& report, std::string_view why, std::string_view then = {});
  // Releases it (when held and not kept between cycles). Never throws.
  void release_after_cycle() noexcept;
  void keep_lock_between_cycles(bool keep) { keep_between_cycles_ = keep; }
  // Leadership (see CleanupEngine::lead); the session is connected and the tables inspected.
  bool lead(store::LeaseFacts& lease);
  void resign() noexcept;
  std::optional<std::chrono::system_clock::time_point> last_cycle() const;

 private:
  static constexpr std::string_view kTakenOver =
      "the instance lock was taken over by another instance";

  // Takes the lock when it is free, expired, or its holder is provably dead. `seen`: the
  // record when the lock was not taken.
  bool take_lock(store::LeaseFacts& seen);
  void warn_once_about_lock();

  const CleanupConfig& config_;
  std::unique_ptr<store::Store> store_;
  std::shared_ptr<StopFlag> stop_;
  std::function<void()> on_connect_;
  bool connected_ = false;
  bool lock_held_ = false;
  bool lock_warned_ = false;
  bool keep_between_cycles_ = false;
  Clock::time_point lock_renewed_{};
};

template <typename Operation>
auto EngineSession::with_retries(Operation&& operation) -> decltype(operation()) {
  for (int attempt = 0;; ++attempt) {
    try {
      if (!connected_) {
        connect();
        // A lease outlives the connection; a session lock must be taken again.
        if (lock_held_ && !store_->instance_lock().keep_alive()) {
          lock_held_ = false;
          throw DatabaseError(ErrorCause::kLeaseLost, "",
                              "the instance lock was taken over while reconnecting");
        }
      }
      return operation();
    } catch (const DatabaseError& e) {
      if (e.kind() != ErrorKind::kRetryable) throw;
      connected_ = connected_ && !e.ends_session();
      if (attempt >= config_.retries) {
        if (!connected_) {
          throw ConnectionError(std::string("database connection lost and not recovered: ") +
                                e.what());
        }
        throw;
      }
      const auto delay = backoff_delay(attempt);
      logging::logger()->warn("{} ({}); retry {}/{} in {}", e.what(), e.code(), attempt + 1,
                              config_.retries, config::format_duration(delay));
      if (stop_->wait_for(delay)) {
        throw ConnectionError(std::string("stopped while retrying: ") + e.what());
      }
    }
  }
}

}  // namespace batch_cleanup::engine
