#include "cli/signals.h"

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <thread>

#include "log/logger.h"

namespace batch_cleanup::cli {
namespace {

sigset_t termination_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void block_termination_signals() {
  const sigset_t set = termination_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void start_signal_thread(std::function<void(int signal)> on_stop) {
  std::thread([on_stop = std::move(on_stop)] {
    const sigset_t set = termination_set();
    int received = 0;
    int count = 0;
    while (sigwait(&set, &received) == 0) {
      ++count;
      if (count == 1) {
        logging::logger()->info("received {}: finishing the batch in flight, then exiting",
                                received == SIGINT ? "SIGINT" : "SIGTERM");
        on_stop(received);
      } else {
        logging::logger()->warn("second signal: exiting now (the open transaction rolls back)");
        logging::logger()->flush();
        std::_Exit(130);
      }
    }
  }).detach();
}

}  // namespace batch_cleanup::cli
