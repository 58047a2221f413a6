// What the engine's source files share: clocks, limits, and the session wrappers. Internal to
// src/engine/cleanup_engine*.cc and engine_*.cc.
#pragma once

#include <algorithm>
#include <chrono>
#include <vector>

#include "batch_cleanup/errors.h"
#include "config/duration.h"
#include "engine/batch_lane.h"
#include "engine/cleanup_engine.h"
#include "log/logger.h"

namespace batch_cleanup::engine {

using Clock = std::chrono::steady_clock;

inline constexpr std::size_t kMaxReportedFailures = 1000;
inline constexpr auto kLockPollInterval = std::chrono::seconds(1);

// "h:123:456 (epoch 3) until 2026-12-07T15:02:57.000Z", for messages about who holds a lock.
std::string describe_holder(const store::LeaseFacts& lease);
// Why the lock's holder is provably dead ("its process 123 on this host no longer runs"), or
// an empty string when it may still be alive (it is then left to its lease's expiry).
std::string dead_holder_proof(const store::LeaseFacts& lease);
inline constexpr auto kLagPollInterval = std::chrono::milliseconds(500);
inline constexpr auto kCancelGrace = std::chrono::seconds(2);
inline constexpr std::int64_t kMaxAdaptiveBatch = 1'000'000;

inline double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

inline double percentile(std::vector<double> values, double fraction) {
  if (values.empty()) return 0;
  const auto index = static_cast<std::size_t>(
      std::min<double>(static_cast<double>(values.size() - 1),
                       fraction * static_cast<double>(values.size() - 1) + 0.5));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(index),
                   values.end());
  return values[index];
}

template <typename Operation>
auto CleanupEngine::on_connection(bool& connected, Operation&& operation) -> decltype(operation()) {
  try {
    return operation();
  } catch (const DatabaseError& e) {
    if (e.kind() == ErrorKind::kRetryable) connected = false;
    throw;
  }
}

template <typename Operation>
auto CleanupEngine::with_retries(Operation&& operation) -> decltype(operation()) {
  for (int attempt = 0;; ++attempt) {
    try {
      if (!connected_) {
        connect_with_retry();
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
