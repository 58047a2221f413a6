#include "cli/signals.h"

#include <unistd.h>

#include <csignal>
#include <cstdlib>

#include "log/logger.h"

namespace batch_cleanup::cli {
namespace {

// SIGUSR2 wakes the thread when it is destroyed; from anyone else it is ignored.
constexpr int kWakeUp = SIGUSR2;

sigset_t waited_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, kWakeUp);
  return set;
}

}  // namespace

void block_termination_signals() {
  const sigset_t set = waited_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

SignalThread::SignalThread(std::function<void(int signal)> on_stop)
    : on_stop_(std::move(on_stop)), thread_([this] { run(); }) {}

SignalThread::~SignalThread() {
  stopping_ = true;
  pthread_kill(thread_.native_handle(), kWakeUp);
  thread_.join();
}

void SignalThread::run() {
  const sigset_t set = waited_set();
  int received = 0;
  int count = 0;
  while (sigwait(&set, &received) == 0) {
    if (received == kWakeUp) {
      if (stopping_) return;
      continue;
    }
    ++count;
    if (count == 1) {
      logging::logger()->info("received {}: finishing the batch in flight, then exiting",
                              received == SIGINT ? "SIGINT" : "SIGTERM");
      on_stop_(received);
    } else {
      logging::logger()->warn("second signal: exiting now (the open transaction rolls back)");
      logging::logger()->flush();
      std::_Exit(130);
    }
  }
}

}  // namespace batch_cleanup::cli
