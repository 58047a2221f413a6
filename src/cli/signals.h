// SIGINT/SIGTERM handling for the command line: the signals are blocked in every thread and
// received by one dedicated thread, which calls the handler outside of signal context.
#pragma once

#include <functional>

namespace batch_cleanup::cli {

// Blocks SIGINT and SIGTERM in the calling thread (call before starting any thread, so that
// every thread inherits the mask).
void block_termination_signals();

// Starts the thread that waits for SIGINT/SIGTERM. The first signal calls `on_stop`; a second
// one exits the process at once with status 130. The thread is detached and lives until exit.
void start_signal_thread(std::function<void(int signal)> on_stop);

}  // namespace batch_cleanup::cli
