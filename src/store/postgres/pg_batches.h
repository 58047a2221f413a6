// PostgreSQL batches: what both batch algorithms share (the careful lock-then-delete path, the
// commit with its observer, the statements), and the two algorithms: physical ctid ranges
// (pg_physical_batches.cc) and keyset batches (pg_key_batches.cc).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "store/facts.h"
#include "store/nibble_loop.h"
#include "store/postgres/pg_batch_sql.h"
#include "store/postgres/pg_dependent_stats.h"
#include "store/postgres/pg_session.h"
#include "store/sql/executor.h"

namespace batch_cleanup::store::postgres {

// What the batches run against; owned by the store, shared with its archive table.
struct PgBatchSetup {
  PgBatchTables tables;
  BatchPlan plan;
  std::string lock_timeout;   // --lock-timeout as PostgreSQL reads it ("2000ms")
  std::string single_reason;  // the reason of every deleted row; empty with several policies
  std::string archive_cycle;  // with tables.archive set (BatchPlan::archive): the archive's cycle
  // Run first in every batch transaction: proves (and, until the transaction ends, keeps) the
  // instance lock; throws when another instance holds it now.
  std::function<void()> fence;
};

// One batch's rows as its algorithm bounds them (a ctid range, a keyset window, an email range):
// the boundary provider of the one batch loop (store/nibble_loop.h), which owns the fast path,
// the halving, the careful path, the observed commit and the advance. Every method but advance()
// runs inside the batch's transaction.
class PgBatchWindow {
 public:
  virtual ~PgBatchWindow() = default;
  // A new batch of about `target_rows` matching rows, never more than `bound`.
  virtual void begin(std::int64_t target_rows, std::int64_t bound, RowDetail detail) = 0;
  // Reads what the window needs of the database (an email range's end): before the first
  // attempt, and again after each shrink() once its attempt was rolled back.
  virtual void locate() {}
  // The fast path's statement (one DELETE of the window's matching rows, the predicate
  // evaluated by the DELETE itself) and its slots; nullptr when this window has no fast path
  // for `detail`.
  virtual const sql::Statement* fast(RowDetail detail, sql::Slots& slots) = 0;
  // Reads the fast statement's result: deleted (rows or counts per reason) and matched.
  virtual void read_fast(const PgResult& rows, RowDetail detail, BatchResult& result) = 0;
  // The window matched `matched` rows, more than the batch's bound: make it smaller (false when
  // it cannot be; locate() follows a true).
  virtual bool shrink(std::int64_t matched) = 0;
  // Whether the careful path's lock statement can match more than the bound (a range; a window
  // with a LIMIT cannot): it then runs under a savepoint, rolled back when it did.
  virtual bool shrinkable() const = 0;
  // The careful path's statement: the window's free matching rows, locked (SKIP LOCKED).
  virtual const sql::Statement& lock(sql::Slots& slots) = 0;
  // The last keyset value the lock statement matched (read_locked()).
  virtual void locked_up_to(const std::optional<std::string>& last) { (void)last; }
  // The window, for the events of the log ("keyset window after x").
  virtual std::string describe() const = 0;
  // What moves the pass past this window once its batch committed (and tallies its policies);
  // kept with a batch whose commit is in doubt, until the database says it committed.
  virtual std::function<void(BatchResult&)> advance() = 0;
};

class PgBatches : public NibbleLoop {
 public:
  PgBatches(PgSession& session, sql::Executor& executor, const PgBatchSetup& setup)
      : session_(session), executor_(executor), setup_(setup) {}

  // The plans of the statements plan_steps() names, in order.
  std::string explain(std::int64_t target_rows) final;
  std::vector<std::string> existing_keys(const std::vector<std::string>& keys) override;
  ReplicationLag replication_lag() override;
  InDoubtOutcome resolve_in_doubt() override;

 protected:
  struct LockedRow {
    std::string locator;  // ctid text (physical) or keyset value text (keyset)
    PendingRow row;
  };

  // A statement explain() shows, with example slot values.
  struct PlanStep {
    std::string title;
    const sql::Statement* statement;
    sql::Slots slots;
  };
  virtual std::vector<PlanStep> plan_steps(std::int64_t target_rows) = 0;

  // One batch of the one batch loop (NibbleLoop::run_batch) over `window`: a transaction that
  // proves the instance lock, the window's fast path under a short lock timeout (the lock
  // probe), the careful path with the lock statement's summary row, the commit, its WAL position.
  BatchResult run_batch(PgBatchWindow& window, const BatchRequest& request);

  const PgBatchStatements& statements(bool whole_rows);
  sql::Slots with_cycle(sql::Slots slots) const;
  // Reads the result of a lock statement: the summary row (matched count and, for keysets, the
  // window's last keyset value) and one row per locked row. Returns that last value.
  std::optional<std::string> read_locked(const PgResult& rows, std::vector<LockedRow>& locked,
                                         BatchResult& result);
  // Deletes the locked rows (predicate re-checked), isolating refused (and, without SKIP LOCKED,
  // held) rows by halving (delete_part).
  void delete_locked(const std::vector<LockedRow>& locked, bool whole_rows, BatchResult& result);
  void delete_part(std::span<const LockedRow> rows, bool whole_rows, BatchResult& result);
  std::string lock_probe_wait() const;

  PgSession& session_;
  sql::Executor& executor_;
  const PgBatchSetup& setup_;
  // The batch transaction's rows in the dependent tables (set up at each BEGIN, from the plan).
  PgDependentStats dependent_stats_{{}};

 private:
  class Steps;  // a window's batch as the loop drives it

  std::optional<PgBatchStatements> statements_;
  bool statements_whole_rows_ = false;
  struct InDoubt {
    std::string transaction_id;
    BatchResult result;
    BatchAdvance advance;
  };
  std::optional<InDoubt> in_doubt_;
  // The pass's commits not yet known to be replayed everywhere: WAL position, when.
  std::deque<std::pair<std::uint64_t, std::chrono::steady_clock::time_point>> commits_;
};

std::unique_ptr<PgBatches> make_physical_batches(PgSession& session, sql::Executor& executor,
                                                 const PgBatchSetup& setup,
                                                 const std::string& pending_oid);
std::unique_ptr<PgBatches> make_key_batches(PgSession& session, sql::Executor& executor,
                                            const PgBatchSetup& setup,
                                            const std::string& pending_oid);

}  // namespace batch_cleanup::store::postgres
