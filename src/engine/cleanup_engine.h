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
#include "engine/engine_session.h"
#include "engine/stop_flag.h"
#include "store/store.h"

namespace batch_cleanup::engine {

// A cycle as it ended: its report (what it committed, also when it failed: report.error holds
// the message then), and the failure, null when it did not fail.
struct CycleOutcome {
  CycleReport report;
  std::exception_ptr failure;
  bool ran = true;  // false: another instance held the lock, nothing was done
};

// Not thread-safe: one thread runs cycles; StopFlag::request() may come from any thread.
// The cycle's orchestration: its session (engine_session.h) connects, retries and holds the
// lock; the batch loop (batch_loop.h) runs the batches of each lane (batch_lane.h).
class CleanupEngine {
 public:
  CleanupEngine(CleanupConfig config, std::unique_ptr<store::Store> store,
                std::shared_ptr<StopFlag> stop);
  ~CleanupEngine();
  CleanupEngine(const CleanupEngine&) = delete;
  CleanupEngine& operator=(const CleanupEngine&) = delete;

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

  // Leadership (the daemon): the leader keeps the instance lock between its cycles, and a
  // standby watches the lock's record. lead() connects (and inspects the tables) when needed,
  // renews the lock when held, otherwise takes it when it is free, expired, or its holder
  // provably dead. Returns whether this instance holds it; `lease` gets the lock's record.
  // Throws as a cycle would (ConfigError, ConnectionError, DatabaseError).
  bool lead(store::LeaseFacts& lease);
  // Releases the lock if held. Never throws.
  void resign() noexcept;
  // Cycles keep the lock when they end (the daemon's leader) instead of releasing it.
  void keep_lock_between_cycles(bool keep);
  // When the last completed cycle started, as the lock's record said when this instance took
  // it or as this instance recorded since; empty when unknown.
  std::optional<std::chrono::system_clock::time_point> last_cycle() const;

 private:
  // The cycle itself; false when it was skipped because another instance holds the lock.
  bool run_cycle_body(CycleReport& report);
  // Inspects the tables and configures the store (every cycle). After a cycle has once run, a
  // table or column that went away fails this cycle only (DatabaseError), not the job.
  void prepare(CycleReport& report);
  // Takes (or, for the daemon's leader, proves) the instance lock. False: the cycle is skipped.
  bool take_lock_for_cycle(CycleReport& report);
  // The archive table and file, armed for the cycle.
  void prepare_archives(const std::string& cycle_id);
  void record_history(const CycleReport& report, const std::string& mode);
  // Writes the history records kept while the database was unreachable.
  void flush_pending_history();
  // The guards that need the data: users-not-empty, max-deletes, max-fraction. Returns the
  // message of the first guard that refuses, or an empty string.
  std::string check_guards();
  void purge_archive(CycleReport& report);
  // The batches: one lane on the session's store, or the workers (engine_workers.cc).
  void run_batches(CycleReport& report);
  // --workers: the coordinator, its workers' stores and threads (engine_workers.cc).
  void run_workers(CycleReport& report, const std::string& lock_token);
  void open_worker_store(store::Store& store, bool& connected, const std::string& lock_token,
                         const std::string& cycle_id, const store::PassSlice& slice);
  void run_dry(CycleReport& report);
  void log_cycle_end(const CycleReport& report) const;

  CleanupConfig config_;
  // With config.archive_file; the store observes it: it outlives the session's store.
  std::unique_ptr<ArchiveFile> archive_file_;
  EngineSession session_;       // refers to config_
  bool prepared_once_ = false;  // a cycle found the tables: later failures to are per cycle
  std::string strategy_;
  std::string email_comparison_;  // the last prepare()'s, for dry-run reports
  store::BatchPlan plan_;         // the last prepare()'s, for the workers' stores
  // The last prepare()'s: the foreign keys a delete acts through (dry runs count them).
  std::vector<store::DependentTable> dependents_;
  std::function<std::unique_ptr<store::Store>()> store_factory_;
  bool workers_warned_ = false;
  std::vector<std::string> preflight_warnings_;
  std::vector<std::string> logged_notes_;  // preflight notes already logged (once per job)
  std::deque<RunRecord> pending_history_;  // records the database could not take yet
  std::function<void(const CycleProgress&)> progress_observer_;
};

}  // namespace batch_cleanup::engine
