// The one batch loop of the SQL stores, in the way of percona-toolkit's NibbleIterator: one
// batch, one transaction (the engine's BatchLoop, engine/batch_loop.h, runs a lane's batches one
// after the other through BatchStore::run_next_batch). A backend's NibbleSteps say where a batch
// ends (ctid ranges, key windows, email ranges, keyset windows of the pending key) and run its
// statements; NibbleLoop::run_batch owns the order: the transaction and its fence, the fast path
// under a savepoint (rolled back and shrunk while it deleted more than the bound, or left for the
// careful path), the careful path (lock what is free, shrink while it matched more than the bound,
// delete with the predicate re-checked), the commit observed through store::commit_observed, and
// the advance, kept with a batch in doubt.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "store/batch_store.h"

namespace batch_cleanup::store {

using BatchClock = std::chrono::steady_clock;

// Milliseconds since `start`, for a batch's phase timings.
double ms_since(BatchClock::time_point start);

// A batch never covers more than this many times its target rows: a window that matched more is
// rolled back and shrunk (or done the careful way).
inline constexpr double kMaxScanFactor = 4.0;

// The most rows one batch of `request` may delete: kMaxScanFactor x its target rows, and no more
// than request.max_rows when that is set.
std::int64_t batch_bound(const BatchRequest& request);

// The slices of a pass between `bounds` (keys in the pass's order; a repeated bound counts
// once): (lower, upper], the first from the start of the table, the last to its end. One slice
// more than there are distinct bounds.
std::vector<PassSlice> slices_between(const std::vector<std::string>& bounds);

// What moves the pass past a batch once it committed (and tallies its policies).
using BatchAdvance = std::function<void(BatchResult&)>;

// One backend's batch as the loop drives it. Every method but advance() and end_transaction()
// runs inside the batch's transaction.
class NibbleSteps {
 public:
  virtual ~NibbleSteps() = default;

  // BEGIN, then the fence that proves (and until the transaction ends keeps) the instance lock.
  virtual void begin_transaction() = 0;
  // COMMIT; throws DatabaseError (of cause kInDoubt when the outcome is unknown).
  virtual void commit() = 0;
  // ROLLBACK unless committed; ends the transaction either way.
  virtual void end_transaction() noexcept = 0;
  // Runs a statement without parameters or result (the savepoints, the same on every backend).
  virtual void exec(const std::string& sql) = 0;
  void savepoint(const char* name) {
    exec(std::string("SAVEPOINT ") + name);
    savepoint_set();
  }
  void rollback_to(const char* name) {  // ROLLBACK TO and RELEASE
    exec(std::string("ROLLBACK TO SAVEPOINT ") + name);
    rolled_back();
    release(name);
  }
  // After a savepoint is set, and after the transaction went back to it: a store that counts
  // what the transaction did leaves out what was rolled back.
  virtual void savepoint_set() {}
  virtual void rolled_back() {}
  void release(const char* name) { exec(std::string("RELEASE SAVEPOINT ") + name); }

  // A new batch of `request` (about its target rows), never more than `bound` rows.
  virtual void begin(const BatchRequest& request, std::int64_t bound) = 0;
  // Whether the window is read before either path (read_window()), the time it takes counted as
  // finding.
  virtual bool reads_window() const { return false; }
  // Reads the window's rows without locks (matched, and where it ends into the steps); false
  // when it is empty: the batch only commits.
  virtual bool read_window(BatchResult& result) {
    (void)result;
    return true;
  }
  // Reads what the window needs of the database (an email range's end): before the first
  // fast attempt, and again after each shrink once its attempt was rolled back.
  virtual void locate() {}
  // Whether the window has a fast path for this batch: one statement that deletes its matching
  // rows, the predicate evaluated by the DELETE itself (made ready for run_fast()).
  virtual bool fast_path() = 0;
  // Runs it and reads its result into `result`; under SAVEPOINT bc_fast, after probe_locks().
  virtual void run_fast(BatchResult& result) = 0;
  // Before the fast statement: wait only briefly for a row lock (the lock probe).
  virtual void probe_locks() {}
  // After a fast statement that met a held or refused row, rolled back: the session's lock
  // timeout again.
  virtual void restore_locks() {}
  // The rows a fast path that met a held or refused row had in view, for its event.
  virtual std::int64_t rows_in_view() const { return 0; }

  // What a window that matched `matched` rows, more than the bound, does.
  enum class Overflow {
    kShrunk,   // the window is smaller now: roll back and try again (locate() follows)
    kKeep,     // it cannot be smaller: keep what the fast path did
    kCareful,  // roll back and take the window the careful way (bounded by its LIMIT)
  };
  virtual Overflow overflow(std::int64_t matched) = 0;
  // Whether the careful path's lock can match more than the bound (a range; a window with a
  // LIMIT cannot): it then runs under SAVEPOINT bc_careful, rolled back and shrunk when it did.
  virtual bool shrinkable() const = 0;
  // The careful path's lock: the window's free matching rows, locked (kept by the steps);
  // matched and skipped into `result`.
  virtual void lock(BatchResult& result) = 0;
  // Deletes the locked rows with the predicate re-checked, isolating refused rows by halves.
  virtual void delete_locked(BatchResult& result) = 0;

  // The window, for the events of the log ("keyset window after x").
  virtual std::string describe() const = 0;
  // What moves the pass past this window once its batch committed.
  virtual BatchAdvance advance() = 0;
  // The commit was in doubt: keep the batch for resolve_in_doubt().
  virtual void keep_in_doubt(const BatchResult& result, BatchAdvance advance) = 0;
  // After a commit (the WAL position, for replication_lag()).
  virtual void committed(const BatchRequest& request) { (void)request; }
  // Just before COMMIT, once the batch's deletes are done: what the store counts of the
  // transaction (the rows the deletes took with them in dependent tables).
  virtual void before_commit(BatchResult& result) { (void)result; }
};

class NibbleLoop : public BatchStore {
 public:
  void set_commit_observer(CommitObserver* observer) final { observer_ = observer; }

 protected:
  // One batch, one transaction; the pass advances only when it committed.
  BatchResult run_batch(NibbleSteps& steps, const BatchRequest& request);

  CommitObserver* observer_ = nullptr;
};

}  // namespace batch_cleanup::store
