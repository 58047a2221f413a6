// BatchCleanupService: runs cleanup cycles on demand or on a background thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "batch_cleanup/config.h"
#include "batch_cleanup/report.h"

namespace batch_cleanup {

// A snapshot of a service's state. Times are wall-clock.
struct ServiceStatus {
  bool running = false;  // the background thread is active
  bool cycle_in_progress = false;
  std::chrono::milliseconds interval{0};
  std::optional<std::chrono::system_clock::time_point> last_run;  // start of the last cycle
  std::optional<std::chrono::system_clock::time_point> next_run;  // only while running
  std::optional<CycleReport> last_report;
  std::string last_error;  // empty when the last cycle succeeded
  // The background thread stopped itself because a cycle was refused for a configuration or
  // guard error (retrying cannot fix those).
  bool halted_on_config_error = false;
  std::int64_t cycles = 0;
  std::int64_t failed_cycles = 0;
  std::int64_t consecutive_failures = 0;
  std::int64_t total_deleted = 0;
  std::int64_t total_failed = 0;
  std::int64_t total_skipped = 0;

  // JSON object with the fields above (times as ISO-8601 UTC, interval as hours and ms).
  std::string to_json() const;
};

// Thread-safe: every public method may be called from any thread. Cycles never overlap: a
// run_once() while another cycle is in progress waits for it to finish.
class BatchCleanupService {
 public:
  // Validates the config (throws ConfigError). Does not connect yet.
  explicit BatchCleanupService(CleanupConfig config);
  // Stops the background thread (as stop()) before returning.
  ~BatchCleanupService();

  BatchCleanupService(const BatchCleanupService&) = delete;
  BatchCleanupService& operator=(const BatchCleanupService&) = delete;

  // Runs one cycle now and returns its report. The first cycle of a service also runs the
  // preflight checks. Throws ConfigError / GuardError (configuration or schema problem),
  // ConnectionError (unreachable after retries), DatabaseError (anything else fatal). Rows that
  // could not be deleted do not throw: they are in report.failures.
  CycleReport run_once();

  // Starts a background thread that runs a cycle immediately and then every
  // config.interval. Failed cycles are logged and recorded in status(); the thread keeps
  // going. No effect when already running.
  void start();

  // Asks the background thread and any cycle in progress to stop, and waits for them. The
  // batch in flight commits or rolls back; a batch blocked for longer than two seconds is
  // cancelled. Safe to call when not running and from several threads.
  void stop();

  // Like stop() but returns at once; a later stop() or the destructor joins.
  void request_stop();

  // True after request_stop()/stop() until the next start().
  bool stop_requested() const;

  ServiceStatus status() const;
  const CleanupConfig& config() const;

  // Called after every cycle (from the thread that ran it) with its report, or with the
  // error text when the cycle failed. Set before start(); not thread-safe to change later.
  using CycleObserver = void (*)(const CycleReport* report, const std::string* error, void* ctx);
  void set_observer(CycleObserver observer, void* ctx);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace batch_cleanup
