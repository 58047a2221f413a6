#include "engine/cancel_watchdog.h"

#include "log/logger.h"

namespace batch_cleanup::engine {

CancelWatchdog::CancelWatchdog(store::Store& store, StopFlag& stop, std::chrono::milliseconds grace)
    : store_(store), stop_(stop), grace_(grace) {
  thread_ = std::thread([this] { watch(); });
}

CancelWatchdog::~CancelWatchdog() {
  done_ = true;
  thread_.join();
}

void CancelWatchdog::watch() {
  while (!done_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (in_flight_ && !cancelled_ && stop_.requested() && stop_.since_request() > grace_) {
      logging::logger()->warn("stop requested: cancelling the batch in flight (it rolls back)");
      cancelled_ = true;
      store_.cancel();
    }
  }
}

}  // namespace batch_cleanup::engine
