// A host application embedding the batch_cleanup worker, as the original's
// `start_batch_cleanup_worker()` integration did. Configuration comes from the environment
// (DATABASE_URL, BATCH_CLEANUP_INTERVAL, ...).
//
//   DATABASE_URL=sqlite:app.db ./embedded_worker
#include <chrono>
#include <cstdio>
#include <exception>
#include <thread>

#include "batch_cleanup/batch_cleanup.h"

int main() {
  try {
    // Start the background worker at application startup.
    if (!batch_cleanup::start_batch_cleanup_worker()) {
      std::fprintf(stderr, "worker already running\n");
      return 1;
    }
    // ... the application does its work; the worker cleans up on its own schedule ...
    for (int i = 0; i < 100 && batch_cleanup::get_cleanup_status().cycles == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const auto status = batch_cleanup::get_cleanup_status();
    std::printf("service running: %s\n", status.running ? "true" : "false");
    std::printf("interval: %.2f hours\n", static_cast<double>(status.interval.count()) / 3.6e6);
    std::printf("first cycle deleted: %lld\n",
                static_cast<long long>(status.last_report ? status.last_report->deleted : -1));

    // A manual cleanup, as run_cleanup_now() in the original.
    const auto deleted_now = batch_cleanup::run_cleanup_now();
    std::printf("manual cleanup deleted: %lld\n", static_cast<long long>(deleted_now));

    std::printf("status: %s\n", batch_cleanup::get_cleanup_status().to_json().c_str());
    // Graceful shutdown.
    batch_cleanup::stop_batch_cleanup_worker();
    std::printf("service running after stop: %s\n",
                batch_cleanup::get_cleanup_status().running ? "true" : "false");
    return status.last_error.empty() ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}
