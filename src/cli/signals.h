// SIGINT/SIGTERM handling for the command line: the signals are blocked in every thread and
// received by one dedicated thread, which calls the handler outside of signal context.
#pragma once

#include <pthread.h>

#include <atomic>
#include <functional>
#include <thread>

namespace batch_cleanup::cli {

// Blocks SIGINT, SIGTERM (and SIGUSR2, the signal thread's own wake-up) in the calling thread.
// Call before starting any thread, so that every thread inherits the mask.
void block_termination_signals();

// The thread that waits for SIGINT/SIGTERM. The first signal calls `on_stop`; a second one exits
// the process at once with status 130. Destroying it stops and joins the thread, so `on_stop`
// never runs after what it refers to is gone: declare it after those objects.
class SignalThread {
 public:
  explicit SignalThread(std::function<void(int signal)> on_stop);
  ~SignalThread();
  SignalThread(const SignalThread&) = delete;
  SignalThread& operator=(const SignalThread&) = delete;

 private:
  void run();

  std::function<void(int)> on_stop_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace batch_cleanup::cli
