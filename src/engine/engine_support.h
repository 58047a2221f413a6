// What the engine's source files share: clocks, limits, and words about the lock's holder.
// Internal to src/engine.
#pragma once

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "store/store.h"

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

}  // namespace batch_cleanup::engine
