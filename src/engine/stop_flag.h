// A stop request shared by the service, its threads and the engine.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace batch_cleanup::engine {

// Thread-safe. request() wakes every wait_for(). It notifies while holding the mutex: a thread
// that sees the request (and may then destroy the flag) cannot do so while request() still
// touches the condition variable.
class StopFlag {
 public:
  void request() {
    std::lock_guard lock(mutex_);
    requested_ = true;
    requested_at_ = std::chrono::steady_clock::now();
    changed_.notify_all();
  }
  void reset() {
    std::lock_guard lock(mutex_);
    requested_ = false;
  }
  bool requested() const {
    std::lock_guard lock(mutex_);
    return requested_;
  }
  // How long ago the stop was requested (zero when not requested).
  std::chrono::steady_clock::duration since_request() const {
    std::lock_guard lock(mutex_);
    return requested_ ? std::chrono::steady_clock::now() - requested_at_
                      : std::chrono::steady_clock::duration::zero();
  }
  // Sleeps up to `duration`; returns true when a stop was requested (before or during).
  bool wait_for(std::chrono::steady_clock::duration duration) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, duration, [this] { return requested_; });
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool requested_ = false;
  std::chrono::steady_clock::time_point requested_at_;
};

}  // namespace batch_cleanup::engine
