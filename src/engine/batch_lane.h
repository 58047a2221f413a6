// The lanes of a cycle: each runs batches over its own slice of the pending table on its own
// store. A cycle has one lane on the session's store (SoloLane), or with --workers N, N lanes
// on stores of their own (WorkerLane) that share a ledger (budget, pacing, the lease's renewal
// gate) while the session's store holds the instance lock. The batch loop (BatchLoop) is the
// same for both: what differs is behind BatchLane's virtual functions. Internal to src/engine.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "batch_cleanup/config.h"
#include "batch_cleanup/report.h"
#include "engine/cycle_ledger.h"
#include "engine/engine_session.h"
#include "store/batch_types.h"
#include "store/store.h"

namespace batch_cleanup::engine {

// Tells a cycle's progress: to the progress observer when one is set, otherwise as a log line
// every config.progress_interval. One per cycle.
class ProgressReporter {
 public:
  using Clock = std::chrono::steady_clock;
  ProgressReporter(const CleanupConfig& config,
                   const std::function<void(const CycleProgress&)>& observer)
      : config_(config), observer_(observer) {}

  // `totals`: the cycle's counts so far; `fraction`: of the table covered, 0..1.
  void tell(const CycleReport& totals, double fraction);
  // The batches start now: the elapsed time and the log line's interval count from here.
  void restart() { start_ = last_line_ = Clock::now(); }

 private:
  const CleanupConfig& config_;
  const std::function<void(const CycleProgress&)>& observer_;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_line_ = Clock::now();
};

// One lane: a store (and whether it is connected), the report its batches add to, and its
// slice. Used by one thread at a time.
class BatchLane {
 public:
  using Clock = std::chrono::steady_clock;

  BatchLane(const CleanupConfig& config, store::Store& lane_store, bool& lane_connected,
            CycleReport& lane_report, store::PassSlice lane_slice = {})
      : store(lane_store),
        connected(lane_connected),
        report(lane_report),
        slice(std::move(lane_slice)),
        config_(config) {}
  virtual ~BatchLane() = default;
  BatchLane(const BatchLane&) = delete;
  BatchLane& operator=(const BatchLane&) = delete;

  // The cycle ended elsewhere (for a worker: another lane failed, or the lock was lost).
  virtual bool ended() const = 0;
  // --max-deletes: the most the next batch may delete (up to `wanted`); 0: the budget is spent.
  virtual std::int64_t reserve(std::int64_t wanted) = 0;
  // Before a batch that may delete `reserved` rows (the one lane keeps the lock; a worker
  // waits for its turn). False: the cycle ends here (the report says why).
  virtual bool start_batch(std::int64_t reserved) = 0;
  // The batch that started at `started` ended, having committed `deleted` rows or not.
  virtual void finish_batch(Clock::time_point started, std::int64_t reserved, std::int64_t deleted,
                            bool committed) = 0;
  // Adds a committed batch to the report with `add`, then tells the progress.
  virtual void record(const store::BatchResult& result,
                      const std::function<void(CycleReport&)>& add) = 0;
  // After a committed batch: --sleep and --max-rate (a worker's ledger paces in start_batch).
  // False: the cycle ends.
  virtual bool pace(const store::BatchResult& result, double batch_ms) = 0;
  // Waits `duration` (a retry's backoff, a lagging standby). True when a stop was requested;
  // `lock_lost` when the cycle ended meanwhile.
  virtual bool wait(Clock::duration duration, bool& lock_lost) = 0;
  // The lock was lost under a batch: the cycle ends ("<why>: cycle <id> ends here<then>").
  virtual void lose_lock(std::string_view why, std::string_view then) = 0;

  // After the lane's connection was lost: connects again, proves the lock and re-arms the
  // archive. False when the cycle ends.
  bool reconnect();

  store::Store& store;
  bool& connected;
  CycleReport& report;
  store::PassSlice slice;
  std::vector<double> latencies;
  double progress = 0;  // of its slice, 0..1
  // The lane's tally as of its last record(): what the other workers' progress reads, under
  // the crew's mutex. The report itself is the lane's own thread's alone (its waits, retries
  // and pauses are added outside the mutex).
  Tally published;

 protected:
  // Connects the lane's store again; false when the lock is not ours any more.
  virtual bool connect_again() = 0;

  const CleanupConfig& config_;
};

// The cycle's one lane, on the session's store: it keeps the instance lock itself.
class SoloLane final : public BatchLane {
 public:
  SoloLane(const CleanupConfig& config, EngineSession& session, CycleReport& cycle_report,
           ProgressReporter& progress);

  bool ended() const override { return false; }
  std::int64_t reserve(std::int64_t) override { return config_.max_deletes - report.deleted; }
  bool start_batch(std::int64_t) override { return session_.keep_lock(report); }
  void finish_batch(Clock::time_point, std::int64_t, std::int64_t, bool) override {}
  void record(const store::BatchResult& result,
              const std::function<void(CycleReport&)>& add) override;
  bool pace(const store::BatchResult& result, double batch_ms) override;
  bool wait(Clock::duration duration, bool& lock_lost) override;
  void lose_lock(std::string_view why, std::string_view then) override;

 private:
  bool connect_again() override;

  EngineSession& session_;
  ProgressReporter& progress_;
};

// What the workers of a cycle share besides the ledger: every lane (for the progress) and the
// mutex that serialises what they add to shared state (the report sums, the progress).
struct WorkerCrew {
  WorkerCrew(const CleanupConfig& config, ProgressReporter& reporter)
      : ledger(config.max_deletes, config.sleep_between_batches, config.max_rate),
        progress(reporter) {}

  CycleLedger ledger;
  ProgressReporter& progress;
  std::vector<const BatchLane*> lanes;
  std::mutex report_mutex;
};

// A worker's lane, on a store of its own that follows the session's lock.
class WorkerLane final : public BatchLane {
 public:
  WorkerLane(const CleanupConfig& config, EngineSession& session, WorkerCrew& crew,
             store::Store& lane_store, bool& lane_connected, CycleReport& lane_report,
             store::PassSlice lane_slice)
      : BatchLane(config, lane_store, lane_connected, lane_report, std::move(lane_slice)),
        session_(session),
        crew_(crew) {}

  bool ended() const override { return crew_.ledger.aborted(); }
  std::int64_t reserve(std::int64_t wanted) override { return crew_.ledger.reserve(wanted); }
  bool start_batch(std::int64_t reserved) override;
  void finish_batch(Clock::time_point started, std::int64_t reserved, std::int64_t deleted,
                    bool committed) override {
    crew_.ledger.finish_batch(started, reserved, deleted, committed);
  }
  void record(const store::BatchResult& result,
              const std::function<void(CycleReport&)>& add) override;
  bool pace(const store::BatchResult&, double) override { return true; }
  bool wait(Clock::duration duration, bool& lock_lost) override;
  void lose_lock(std::string_view why, std::string_view then) override;

 private:
  bool connect_again() override;

  EngineSession& session_;
  WorkerCrew& crew_;
};

// Creates the archive table when needed, checks it, and arms it for the cycle.
void prepare_archive(store::Store& store, const std::string& cycle_id);

}  // namespace batch_cleanup::engine
