// SQLite batches: ranges of the rowid (or key) order, each one write transaction. Under the
// write lock the rows of a range cannot change between the predicate's evaluation and the
// deletion, so one statement selects and deletes them: in rowid order, the DELETE of the range's
// first matching rows (the predicate inside it); in key order, the range's matching rows are
// selected first (their last key bounds the range), then deleted with the predicate re-checked.
// A transaction takes up to kMaxChunks such statements (chunks of target_rows) while matches
// keep coming and it has held the write lock for less than kHoldBudget, so a dense table pays
// one commit for up to 4 x target_rows rows. A refused row is isolated under savepoints, or,
// when the whole transaction is refused (a trigger's RAISE(ROLLBACK), a deferred constraint),
// by halves. Every statement is built once and kept prepared on the connection.
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "store/facts.h"
#include "store/nibble_loop.h"
#include "store/sql/executor.h"
#include "store/sql/predicate.h"
#include "store/sqlite/sqlite_batch_sql.h"
#include "store/sqlite/sqlite_catalog.h"
#include "store/sqlite/sqlite_connection.h"
#include "store/sqlite/sqlite_dependent_counts.h"

namespace batch_cleanup::store::sqlite {

// Not driven by the one batch loop (NibbleLoop::run_batch): under SQLite's single writer there
// is no fast path to fall back from and no row to find held; the chunks of a transaction and the
// isolation of a refused transaction by halves are its own. It shares the observed commit.
class SqliteBatches final : public NibbleLoop {
 public:
  // At most this many chunks (statements of up to target_rows rows) per transaction: a batch
  // never deletes more than kMaxChunks x target_rows rows.
  static constexpr int kMaxChunks = 4;
  // Another chunk starts only when the transaction, after it, would still have held the write
  // lock for less than this.
  static constexpr std::chrono::milliseconds kHoldBudget{250};

  SqliteBatches(SqliteConnection& connection, sql::Executor& executor, SqliteBatchSetup setup);

  void begin_pass() override;
  BatchResult run_next_batch(const BatchRequest& request) override;
  std::string explain(std::int64_t target_rows) override;
  std::vector<std::string> existing_keys(const std::vector<std::string>& keys) override;
  ReplicationLag replication_lag() override { return {}; }  // no replicas
  // A local COMMIT's outcome is always known.
  InDoubtOutcome resolve_in_doubt() override { return {}; }

 private:
  // A position in the locator order (exclusive lower or inclusive upper end of a range): a
  // copied value (a key of any storage class), or a rowid. Empty: the start or end of the table.
  class Bound {
   public:
    Bound() = default;
    explicit Bound(OwnedValue value) : value_(std::move(value)) {}
    explicit Bound(std::int64_t rowid) : rowid_(rowid), has_rowid_(true) {}
    bool empty() const { return !value_ && !has_rowid_; }
    void bind(SqliteStatement& statement, int index) const;
    Bound copy() const;
    static Bound of(const OwnedValue& value);  // a copy of `value`
    std::int64_t rowid() const;                // in rowid mode

   private:
    OwnedValue value_;
    std::int64_t rowid_ = 0;
    bool has_rowid_ = false;
  };

  struct Candidate {
    OwnedValue locator;  // rowid (physical) or key value (keyset)
    PendingRow row;
  };

  // One statement's share of a transaction, and how it ended.
  struct Chunk {
    Bound window;              // the end of the rows it examined; empty: the end of the table
    Bound end;                 // the last locator it covered; empty: the end of the table
    std::int64_t limit = 0;    // the rows it could take
    std::int64_t taken = 0;    // the rows it took (deleted or, when refused, matched)
    bool refused = false;      // a row was refused: done row by row
    bool rolled_back = false;  // SQLite rolled the whole transaction back
  };

  // The counts of a result, to undo a refused statement's share.
  struct Tally {
    std::int64_t matched;
    std::int64_t deleted;
    std::size_t rows;
    std::size_t failures;
    PolicyCounts by_policy;
  };
  static Tally tally_of(const BatchResult& result);
  static void restore(const Tally& tally, BatchResult& result);

  SqliteReturning returning_for(RowDetail detail) const;

  // Runs a kept statement: binds `built` with the batch's slots and the range's bounds.
  SqliteStatement& prepare(const sql::Statement& built, const sql::Slots& extra = {});
  void bind_range(SqliteStatement& statement, const sql::Statement& built, const Bound& after,
                  const Bound& upper) const;

  Bound row_after(const Bound& after, std::int64_t offset);
  std::vector<Candidate> select_matches(const Bound& after, const Bound& upper, std::int64_t limit);
  Chunk run_chunk(const SqliteTransaction& tx, const Bound& after, std::int64_t limit,
                  RowDetail detail, BatchResult& result);
  void take(const std::vector<Candidate>& candidates, Chunk& chunk, BatchResult& result) const;
  void delete_first_matches(const Bound& after, std::int64_t limit, RowDetail detail, Chunk& chunk,
                            BatchResult& result);
  void delete_candidates(const SqliteTransaction& tx, const Bound& after, const Bound& upper,
                         const std::vector<Candidate>& candidates, bool whole_rows, Chunk& chunk,
                         BatchResult& result);
  std::optional<RowError> delete_row(const SqliteTransaction& tx, const Candidate& candidate,
                                     bool whole_rows, BatchResult& out);
  void isolate(std::span<const Candidate> rows, bool whole_rows, BatchResult& result,
               bool known_refused);
  std::optional<RowError> delete_in_own_transaction(std::span<const Candidate> rows,
                                                    bool whole_rows, BatchResult& result);
  void commit_observed(SqliteTransaction& tx, const std::vector<PendingRow>& rows);
  void yield_to_other_writers();
  void run(const char* sql);  // a kept statement without parameters

  SqliteConnection& connection_;
  sql::Executor& executor_;
  SqliteBatchSetup setup_;
  sql::Slots cutoffs_;  // the batch's creation-time cutoffs
  bool needs_cutoffs_ = false;
  SqliteBatchStatements statements_;  // over setup_
  SqliteDependentCounts dependent_counts_{setup_.dependents};

  // Pass state; advanced only after a batch commits.
  Bound cursor_;  // the last locator covered; empty at the start of a pass
  bool exhausted_ = false;
  std::int64_t first_locator_ = 0;  // rowid range at begin_pass(), for progress
  std::int64_t last_locator_ = 0;
  std::chrono::steady_clock::time_point last_commit_{};  // when the last batch released the lock
  std::chrono::steady_clock::duration last_hold_{};      // how long it held it
};

}  // namespace batch_cleanup::store::sqlite
