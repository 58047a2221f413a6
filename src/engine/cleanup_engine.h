// The cleanup engine: one cycle = connect (with retries), preflight (every cycle: tables are
// resolved again, so a schema change is seen), the instance lock, the guards, then batches until
// the pending table is covered, a stop is requested, or an error ends the cycle. Whatever ends
// it, the cycle's report counts exactly the rows its committed batches deleted.
#pragma once

#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "batch_cleanup/config.h"
#include "batch_cleanup/history.h"
#include "batch_cleanup/report.h"
#include "engine/archive_file.h"
#include "engine/stop_flag.h"
#include "store/store.h"

namespace batch_cleanup::engine {

class CancelWatchdog;
class CycleLedger;
struct BatchLane;

// A cycle as it ended: its report (what it committed, also when it failed: report.error holds
// the message then), and the failure, null when it did not fail.
struct CycleOutcome {
  CycleReport report;
  std::exception_ptr failure;
  bool ran = true;  // false: another instance held the lock, nothing was done
};

// Not thread-safe: one thread runs cycles; StopFlag::request() may come from any thread.
class CleanupEngine {
 public:
  CleanupEngine(CleanupConfig config, std::unique_ptr<store::Store> store,
                std::shared_ptr<StopFlag> stop);
  ~CleanupEngine();

  // Runs one cycle; never throws. A failure is ConfigError/GuardError (exit 2), ConnectionError
  // (exit 3) or DatabaseError (fatal); row failures are reported, not failures. A stop request
  // ends the cycle after the batch in flight (report.interrupted). A non-dry cycle, finished or
  // failed, is appended to the history table (mode "once" or "daemon") when config.record_history;
  // when the database cannot be reached then, the record waits for the next connection.
  CycleOutcome run(const std::string& mode = "once");

  // run(), then rethrows the failure when there was one.
  CycleReport run_cycle(const std::string& mode = "once");

  // Called after every batch of a non-dry cycle (on the cycle's thread). While an observer is
  // set, it replaces the progress log line written every config.progress_interval.
  void set_progress_observer(std::function<void(const CycleProgress&)> observer);

  // With config.workers > 1: how the engine opens a store for each worker (of the same
  // configuration as its own). Without it, such a cycle fails with ConfigError.
  void set_store_factory(std::function<std::unique_ptr<store::Store>()> factory);

  // Connects with exponential backoff and equal jitter: 1 + config.retries attempts. Throws
  // ConnectionError when every attempt failed, or as soon as a stop is requested.
  void connect_with_retry();

  // Leadership (the daemon): the leader keeps the instance lock between its cycles, and a
  // standby watches the lock's record. lead() connects (and inspects the tables) when needed,
  // renews the lock when held, otherwise takes it when it is free, expired, or its holder
  // provably dead. Returns whether this instance holds it; `lease` gets the lock's record.
  // Throws as a cycle would (ConfigError, ConnectionError, DatabaseError).
  bool lead(store::LeaseFacts& lease);
  // Releases the lock if held. Never throws.
  void resign() noexcept;
  // Cycles keep the lock when they end (the daemon's leader) instead of releasing it.
  void keep_lock_between_cycles(bool keep) { keep_between_cycles_ = keep; }
  // When the last completed cycle started, as the lock's record said when this instance took
  // it or as this instance recorded since; empty when unknown.
  std::optional<std::chrono::system_clock::time_point> last_cycle() const;

 private:
  // Takes the lock when it is free, expired, or its holder is provably dead (the same host's
  // process table, the server's processes on a direct connection). `seen`: the record when
  // the lock was not taken.
  bool take_instance_lock(store::LeaseFacts& seen);
  // The cycle itself; false when it was skipped because another instance holds the lock.
  bool run_cycle_body(CycleReport& report);
  // Inspects the tables and configures the store (every cycle). After a cycle has once run, a
  // table or column that went away fails this cycle only (DatabaseError), not the job.
  void prepare(CycleReport& report);
  void record_history(const CycleReport& report, const std::string& mode);
  // Writes the history records kept while the database was unreachable.
  void flush_pending_history();
  // Takes the one-active-instance lock (waiting with config.wait_lock). False: the cycle is
  // skipped (report.skipped_by_lock) or was stopped while waiting (report.interrupted).
  bool acquire_instance_lock(CycleReport& report);
  // Renews the lock when it is due (and always with `now`). False when another instance holds
  // it now: the cycle ends (report.interrupted, a warning).
  bool keep_lock(CycleReport& report, bool now = false);
  // Waits `duration` while keeping the lock; true when a stop was requested meanwhile.
  bool wait_holding_lock(std::chrono::steady_clock::duration duration, CycleReport& report,
                         bool& lock_lost);
  // The guards that need the data: users-not-empty, max-deletes, max-fraction. Returns the
  // message of the first guard that refuses, or an empty string.
  std::string check_guards();
  // After a reconnect inside a cycle: keeps (or takes again) the instance lock and re-arms the
  // archive. False when another instance took the lock meanwhile.
  bool restore_session_state(CycleReport& report);
  void prepare_archive(store::Store& store, const std::string& cycle_id);
  // connect_with_retry() for any store (a worker's).
  void connect_store(store::Store& store, bool& connected);
  void purge_archive(CycleReport& report);
  // With --max-replication-lag or --max-replication-lag-bytes: waits while a standby has not
  // replayed the cycle's commits closely enough. False when a stop was requested (or the lock
  // lost) meanwhile.
  bool wait_for_replicas(BatchLane& lane);
  // Runs `operation` on a connection (the engine's: connected_, or a lane's); a retryable
  // DatabaseError also marks it for a reconnect (`connected` false).
  template <typename Operation>
  auto on_connection(bool& connected, Operation&& operation) -> decltype(operation());
  // Runs `operation`; on a retryable error reconnects (with backoff) and runs it again, up to
  // config.retries times.
  template <typename Operation>
  auto with_retries(Operation&& operation) -> decltype(operation());
  void run_batches(CycleReport& report);
  store::RowDetail row_detail() const;
  // A lane's batches until its slice is covered, the cycle stops or fails (engine_batches.cc).
  void run_lane(BatchLane& lane, std::chrono::steady_clock::time_point cycle_start);
  // --workers: the coordinator, its workers' stores and threads (engine_workers.cc).
  void run_workers(CycleReport& report, const std::string& lock_token);
  void open_worker_store(store::Store& store, bool& connected, const std::string& lock_token,
                         const std::string& cycle_id, const store::PassSlice& slice);
  // The progress observer or the periodic progress line: of the one lane, or (with the
  // ledger's report mutex held) of every worker's.
  void report_lane_progress(const CycleReport& totals, double progress,
                            std::chrono::steady_clock::time_point cycle_start,
                            std::chrono::steady_clock::time_point& last_progress);
  void report_progress(std::chrono::steady_clock::time_point cycle_start);
  // Waits on a lane: the one lane keeps the lock meanwhile (wait_holding_lock); a worker's
  // wait ends early when the cycle ends (lock_lost).
  bool lane_wait(BatchLane& lane, std::chrono::steady_clock::duration duration, bool& lock_lost);
  // After a lane's connection was lost: connects again and restores its session's state.
  bool reconnect_lane(BatchLane& lane);
  // One batch, retried after transient errors and resolved after an in-doubt commit. False
  // when the cycle must end (a stop, a lost lock); `result` holds the committed batch.
  // `max_rows` (with --max-deletes): the most it may delete; 0: no limit.
  bool run_one_batch(BatchLane& lane, std::int64_t rows, std::int64_t max_rows,
                     store::RowDetail detail, CancelWatchdog& watchdog, std::int64_t& target_rows,
                     store::BatchResult& result);
  void run_dry(CycleReport& report);
  void record_batch(const store::BatchResult& result, CycleReport& report) const;
  // --batch-time: scales target_rows towards the target batch duration.
  void adapt_batch_size(const store::BatchResult& result, double batch_ms,
                        std::int64_t& target_rows) const;
  // --sleep / --max-rate: pauses after a batch. Returns false when a stop arrived meanwhile.
  bool throttle(const store::BatchResult& result, double batch_ms, CycleReport& report);
  std::chrono::milliseconds backoff_delay(int attempt) const;
  void log_cycle_end(const CycleReport& report) const;

  CleanupConfig config_;
  std::unique_ptr<ArchiveFile> archive_file_;  // with config.archive_file; observes store_
  std::unique_ptr<store::Store> store_;
  std::shared_ptr<StopFlag> stop_;
  bool connected_ = false;
  bool prepared_once_ = false;  // a cycle found the tables: later failures to are per cycle
  bool lock_held_ = false;
  bool lock_warned_ = false;
  bool keep_between_cycles_ = false;
  std::chrono::steady_clock::time_point lock_renewed_{};
  std::string strategy_;
  std::string email_comparison_;  // the last prepare()'s, for dry-run reports
  store::BatchPlan plan_;         // the last prepare()'s, for the workers' stores
  std::function<std::unique_ptr<store::Store>()> store_factory_;
  bool workers_warned_ = false;
  const std::vector<BatchLane*>* worker_lanes_ = nullptr;  // while run_workers() runs
  std::chrono::steady_clock::time_point last_progress_line_{};
  std::vector<std::string> preflight_warnings_;
  std::vector<std::string> logged_notes_;  // preflight notes already logged (once per job)
  std::deque<RunRecord> pending_history_;  // records the database could not take yet
  std::function<void(const CycleProgress&)> progress_observer_;
};

}  // namespace batch_cleanup::engine
