#include "engine/cycle_ledger.h"

#include <algorithm>

#include "engine/stop_flag.h"

namespace batch_cleanup::engine {
namespace {
// How often a waiting lane looks at the stop flag (a StopFlag has its own condition variable).
constexpr auto kStopPoll = std::chrono::milliseconds(50);
}  // namespace

std::int64_t CycleLedger::reserve(std::int64_t wanted) {
  if (max_deletes_ < 0) return wanted;
  std::unique_lock lock(mutex_);
  while (true) {
    const std::int64_t left = max_deletes_ - deleted_ - reserved_;
    if (left > 0) {
      const std::int64_t granted = std::min(wanted, left);
      reserved_ += granted;
      return granted;
    }
    // Batches in flight may delete less than they reserved: what they leave is still ours.
    if (reserved_ == 0 || aborted_) return 0;
    changed_.wait(lock);
  }
}

void CycleLedger::release(std::int64_t reserved) {
  if (max_deletes_ < 0) return;
  std::lock_guard lock(mutex_);
  reserved_ -= reserved;
  changed_.notify_all();
}

bool CycleLedger::start_batch(const StopFlag& stop, double& waited_ms) {
  const auto start = Clock::now();
  std::unique_lock lock(mutex_);
  while (true) {
    if (aborted_ || stop.requested()) return false;
    const auto now = Clock::now();
    const auto not_before = std::max(rate_clock_, sleep_until_);
    if (!renewing_ && now >= not_before) break;
    const auto wake = renewing_ ? now + kStopPoll : std::min(not_before, now + kStopPoll);
    changed_.wait_until(lock, wake);
  }
  ++in_flight_;
  // The renewal gate is not pacing: only the wait for --sleep and --max-rate counts.
  waited_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  return true;
}

void CycleLedger::finish_batch(Clock::time_point started, std::int64_t reserved,
                               std::int64_t deleted, bool committed) {
  std::lock_guard lock(mutex_);
  --in_flight_;
  if (max_deletes_ >= 0) reserved_ -= reserved;
  if (committed) {
    deleted_ += deleted;
    const auto now = Clock::now();
    if (max_rate_ > 0 && deleted > 0) {
      // Every batch takes its deleted / max_rate seconds of the cycle's clock, from its start
      // (one worker: a batch and its pause last no less than that).
      rate_clock_ = std::max(rate_clock_, started) +
                    std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(static_cast<double>(deleted) / max_rate_));
    }
    if (sleep_.count() > 0) sleep_until_ = now + sleep_;
  }
  changed_.notify_all();
}

void CycleLedger::begin_renewal() {
  std::unique_lock lock(mutex_);
  renewing_ = true;
  changed_.wait(lock, [this] { return in_flight_ == 0; });
}

void CycleLedger::end_renewal() {
  std::lock_guard lock(mutex_);
  renewing_ = false;
  changed_.notify_all();
}

void CycleLedger::abort() {
  std::lock_guard lock(mutex_);
  aborted_ = true;
  changed_.notify_all();
}

bool CycleLedger::aborted() const {
  std::lock_guard lock(mutex_);
  return aborted_;
}

void CycleLedger::lane_started() {
  std::lock_guard lock(mutex_);
  ++lanes_;
}

void CycleLedger::lane_ended() {
  std::lock_guard lock(mutex_);
  --lanes_;
  changed_.notify_all();
}

bool CycleLedger::wait_lanes(std::chrono::milliseconds duration) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, duration, [this] { return lanes_ == 0; });
}

}  // namespace batch_cleanup::engine
