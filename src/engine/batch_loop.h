// The batch loop: a lane's batches until its slice is covered, the cycle stops or fails. It
// owns the budget check, retries of a batch after transient errors, the halving after a
// statement timeout, in-doubt commits, the batch size (--batch-time), the wait for lagging
// standbys, and what each batch adds to the report; the lane (batch_lane.h) says how the lock
// is kept, how batches are paced and how a lost connection comes back. Internal to src/engine.
#pragma once

#include <cstdint>
#include <vector>

#include "batch_cleanup/config.h"
#include "batch_cleanup/report.h"
#include "engine/batch_lane.h"
#include "engine/engine_session.h"
#include "store/batch_types.h"

namespace batch_cleanup::engine {

class CancelWatchdog;

// Thread-safe: the workers' lanes run it at once (it keeps no state of its own).
class BatchLoop {
 public:
  BatchLoop(const CleanupConfig& config, EngineSession& session)
      : config_(config), session_(session) {}

  // Runs `lane`'s batches. Throws what ends the cycle (DatabaseError, ConnectionError); a stop,
  // a lost lock or a spent budget end it normally (in the report).
  void run(BatchLane& lane) const;

 private:
  // One batch, retried after transient errors and resolved after an in-doubt commit. False
  // when the cycle must end (a stop, a lost lock); `result` holds the committed batch.
  // `max_rows` (with --max-deletes): the most it may delete; 0: no limit.
  bool run_one_batch(BatchLane& lane, std::int64_t rows, std::int64_t max_rows,
                     store::RowDetail detail, CancelWatchdog& watchdog, std::int64_t& target_rows,
                     store::BatchResult& result) const;
  // With --max-replication-lag or --max-replication-lag-bytes: waits while a standby has not
  // replayed the cycle's commits closely enough. False when the cycle ends meanwhile.
  bool wait_for_replicas(BatchLane& lane) const;
  // --batch-time: scales target_rows towards the target batch duration.
  void adapt_batch_size(const store::BatchResult& result, double batch_ms,
                        std::int64_t& target_rows) const;
  void record_batch(const store::BatchResult& result, CycleReport& report) const;
  store::RowDetail row_detail() const;

  const CleanupConfig& config_;
  EngineSession& session_;
};

// Whether Galera flow control holds the cluster (ReplicationLag's Galera fields).
bool galera_held(const store::ReplicationLag& lag);

// The batch durations of a cycle (every lane's), and their p50, p99 and maximum.
void set_batch_durations(CycleReport& report, std::vector<double> durations_ms);

}  // namespace batch_cleanup::engine
