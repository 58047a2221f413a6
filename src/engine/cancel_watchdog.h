// Cancels the statement in flight when a stop has been pending for longer than a grace period,
// so that SIGTERM ends the process within seconds even if a batch is blocked.
#pragma once

#include <atomic>
#include <chrono>
#include <thread>

#include "engine/stop_flag.h"
#include "store/store.h"

namespace batch_cleanup::engine {

class CancelWatchdog {
 public:
  CancelWatchdog(store::Store& store, StopFlag& stop, std::chrono::milliseconds grace);
  ~CancelWatchdog();
  CancelWatchdog(const CancelWatchdog&) = delete;
  CancelWatchdog& operator=(const CancelWatchdog&) = delete;

  void batch_started() { in_flight_ = true; }
  void batch_finished() { in_flight_ = false; }

 private:
  void watch();

  store::Store& store_;
  StopFlag& stop_;
  std::chrono::milliseconds grace_;
  std::atomic<bool> done_{false};
  std::atomic<bool> in_flight_{false};
  std::atomic<bool> cancelled_{false};
  std::thread thread_;
};

}  // namespace batch_cleanup::engine
