// The cleanup engine: one cycle = connect (with retries), preflight (first cycle), then batches
// until the pending table is covered, a stop is requested, or a fatal error occurs.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "batch_cleanup/config.h"
#include "batch_cleanup/report.h"
#include "engine/archive_file.h"
#include "engine/stop_flag.h"
#include "store/store.h"

namespace batch_cleanup::engine {

// Not thread-safe: one thread runs cycles; StopFlag::request() may come from any thread.
class CleanupEngine {
 public:
  CleanupEngine(CleanupConfig config, std::unique_ptr<store::Store> store,
                std::shared_ptr<StopFlag> stop);

  // Runs one cycle. Throws ConfigError/GuardError (exit 2), ConnectionError (exit 3) and
  // DatabaseError (fatal); row failures are reported, not thrown. A stop request ends the
  // cycle after the batch in flight (report.interrupted). A non-dry cycle, finished or failed,
  // is appended to the history table (mode "once" or "daemon") when config.record_history and
  // the database is reachable; a history write that fails is only logged.
  CycleReport run_cycle(const std::string& mode = "once");

  // Called after every batch of a non-dry cycle (on the cycle's thread). While an observer is
  // set, it replaces the progress log line written every config.progress_interval.
  void set_progress_observer(std::function<void(const CycleProgress&)> observer);

  // Connects with exponential backoff and equal jitter: 1 + config.retries attempts. Throws
  // ConnectionError when every attempt failed, or as soon as a stop is requested.
  void connect_with_retry();

 private:
  // The cycle itself; false when it was skipped because another instance holds the lock.
  bool run_cycle_body(CycleReport& report);
  void record_history(const CycleReport& report, const std::string& mode, const std::string& error);
  // Takes the one-active-instance lock (waiting with config.wait_lock). False: the cycle is
  // skipped (report.skipped_by_lock) or was stopped while waiting (report.interrupted).
  bool acquire_instance_lock(CycleReport& report);
  // The guards that need the data: users-not-empty, max-deletes, max-fraction. Returns the
  // message of the first guard that refuses, or an empty string.
  std::string check_guards();
  // After a reconnect inside a cycle: takes the instance lock again (it died with the old
  // session) and re-arms the archive. False when another instance took the lock meanwhile.
  bool restore_session_state(CycleReport& report);
  void purge_archive(CycleReport& report);
  // Creates the archive table when missing, checks it, and arms it for the cycle.
  void prepare_archive(const std::string& cycle_id);
  // With config.max_replication_lag: waits while a standby lags more (logging when it pauses
  // and resumes). Returns false when a stop was requested meanwhile.
  bool wait_for_replicas(CycleReport& report);
  // Runs `operation`; a retryable DatabaseError also marks the connection for a reconnect.
  template <typename Operation>
  auto on_session(Operation&& operation) -> decltype(operation());
  void run_batches(CycleReport& report);
  void run_dry(CycleReport& report);
  void record_batch(const store::BatchResult& result, CycleReport& report) const;
  // --batch-time: scales target_rows towards the target batch duration.
  void adapt_batch_size(const store::BatchResult& result, double batch_ms,
                        std::int64_t& target_rows) const;
  // --sleep / --max-rate: pauses after a batch. Returns false when a stop arrived meanwhile.
  bool throttle(const store::BatchResult& result, double batch_ms, CycleReport& report);
  std::chrono::milliseconds backoff_delay(int attempt) const;

  CleanupConfig config_;
  std::unique_ptr<ArchiveFile> archive_file_;  // with config.archive_file; observes store_
  std::unique_ptr<store::Store> store_;
  std::shared_ptr<StopFlag> stop_;
  bool connected_ = false;
  bool preflight_done_ = false;
  bool lock_held_ = false;
  std::string strategy_;
  std::vector<std::string> preflight_warnings_;
  std::function<void(const CycleProgress&)> progress_observer_;
};

}  // namespace batch_cleanup::engine
