// The batches of a cleanup pass: the one role of a store that deletes.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "store/batch_types.h"
#include "store/commit_observer.h"

namespace batch_cleanup::store {

// One thread uses it; nothing here is thread-safe (Store::cancel() is).
class BatchStore {
 public:
  virtual ~BatchStore() = default;

  // Starts a new pass over the pending table. Batches then cover it front to back.
  virtual void begin_pass() = 0;

  // Splits the next pass into `count` disjoint slices that together cover the table, for as
  // many workers (each on a store of its own). A store that cannot split returns one slice.
  virtual std::vector<PassSlice> plan_slices(int count) {
    (void)count;
    return {PassSlice{}};
  }
  // Starts a pass over one slice of plan_slices() (made by any store of the same tables).
  virtual void begin_slice(const PassSlice& slice) {
    if (!slice.whole()) throw std::logic_error("this store's passes cannot be split");
    begin_pass();
  }

  // Runs the next batch as one transaction: find about request.target_rows matching rows not
  // held by others, DELETE them with the predicate re-checked, isolate rows a constraint or
  // trigger refuses (row by row, savepoints), commit. The pass advances only when the batch
  // committed, so after a DatabaseError the same batch can be run again.
  virtual BatchResult run_next_batch(const BatchRequest& request) = 0;

  // The query plans of the first batch's statements, as the database reports them (EXPLAIN;
  // nothing is executed or written). Call after begin_pass().
  virtual std::string explain(std::int64_t target_rows) = 0;

  // Installs (or, with nullptr, removes) the observer of deleting transactions; not owned.
  // Batches with an observer must be asked for RowDetail::kWholeRows.
  virtual void set_commit_observer(CommitObserver* observer) = 0;

  // Which of `keys` (text form) name a row of the pending table now.
  virtual std::vector<std::string> existing_keys(const std::vector<std::string>& keys) = 0;

  // How far the streaming standbys are behind this pass's last commit (tracked by batches run
  // with track_commit_lsn); zero without standbys, or on a backend without replicas.
  virtual ReplicationLag replication_lag() = 0;

  // After run_next_batch() failed with ErrorKind::kInDoubt and the connection was opened again:
  // whether that batch committed (asked of the database by its transaction id).
  virtual InDoubtOutcome resolve_in_doubt() = 0;
};

}  // namespace batch_cleanup::store
