// BatchCleanupService: runs cleanup cycles on demand or on a background thread.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "batch_cleanup/config.h"
#include "batch_cleanup/history.h"
#include "batch_cleanup/report.h"

namespace batch_cleanup {

// Batch transaction durations in fixed buckets (the Prometheus histogram of /metrics).
struct DurationHistogram {
  // Upper bounds in seconds; a last, implicit bucket is +Inf.
  static constexpr std::array<double, 12> kBoundsSeconds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                            0.5,   1,    2.5,   5,    10,  30};
  // counts[i]: observations in (kBoundsSeconds[i-1], kBoundsSeconds[i]]; counts.back(): above
  // the last bound. Not cumulative.
  std::array<std::int64_t, kBoundsSeconds.size() + 1> counts{};
  std::int64_t count = 0;
  double sum_seconds = 0;

  void observe(double seconds);
};

// Who holds the instance lock, as this instance last saw it.
struct Leadership {
  // "leader" (this instance holds the lock between its cycles), "standby" (another holds it),
  // or "" (not known yet; run-once jobs, whose lock lives only as long as a cycle).
  std::string role;
  std::string holder;  // the holder's instance ("host:pid:..."), this one's when leader
  std::int64_t epoch = 0;
  std::string expires_at;  // ISO-8601 UTC; empty for a lock that does not expire (SQLite)
  // When the last completed cycle of any instance started (the shared schedule).
  std::optional<std::chrono::system_clock::time_point> last_cycle;
};

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
  // What every cycle counted, summed (a failed cycle's committed batches included); /status
  // shows them as total_deleted, total_failed, ... and the metrics as *_total counters.
  Tally totals;
  Leadership leadership;
  // Cycles that came due and did not run, by reason ("lease_held": another instance holds
  // the lock: a run-once that found it held, or a standby that saw the shared schedule overdue).
  std::map<std::string, std::int64_t> cycles_skipped;
  std::optional<std::chrono::system_clock::time_point> last_skipped;  // the last such cycle

  // End of the last cycle that did not fail (outcome success, partial or interrupted).
  std::optional<std::chrono::system_clock::time_point> last_success;
  // The last cycle failed because the database could not be reached (ConnectionError).
  bool database_unreachable = false;
  // Cycles by RunRecord::outcome ("success", "partial", "interrupted", "failed", "dry_run").
  std::map<std::string, std::int64_t> cycles_by_outcome;
  // When the last cycle of each outcome ended (only outcomes that occurred).
  std::map<std::string, std::chrono::system_clock::time_point> last_cycle_by_outcome;
  // Every batch transaction of every cycle of this service.
  DurationHistogram batch_duration;
  // The last kRecentCycles cycles (failed ones included), oldest first.
  static constexpr std::size_t kRecentCycles = 50;
  std::vector<RunRecord> recent_cycles;

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

  // Runs one cycle now and returns its report (history mode "once"). The first cycle of a service
  // also runs the preflight checks. Throws ConfigError / GuardError (configuration or schema
  // problem), ConnectionError (unreachable after retries), DatabaseError (anything else fatal).
  // Rows that could not be deleted do not throw: they are in report.failures.
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

  // Called after every batch of a non-dry cycle, from the thread running the cycle. Must be
  // quick and must not call back into the service. While an observer is set, the progress log
  // line (every config.progress_interval) is not written: the observer shows progress instead. Set
  // before the first cycle; not thread-safe to change later.
  void set_progress_observer(std::function<void(const CycleProgress&)> observer);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace batch_cleanup
