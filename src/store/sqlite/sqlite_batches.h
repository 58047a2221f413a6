// SQLite batches: ranges of the rowid (or key) order, each one write transaction. Under the
// write lock the range holds exactly the rows its SELECT saw, so the DELETE re-checks the
// predicate and deletes them; a refused row is isolated under savepoints, or, when the whole
// transaction is refused (a trigger's RAISE(ROLLBACK), a deferred constraint), by halves.
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "store/batch_store.h"
#include "store/facts.h"
#include "store/sql/executor.h"
#include "store/sql/predicate.h"
#include "store/sqlite/sqlite_catalog.h"
#include "store/sqlite/sqlite_connection.h"

namespace batch_cleanup::store::sqlite {

// What the batches run against, from the store.
struct SqliteBatchSetup {
  std::string pending;  // "schema"."table"
  std::string key;      // quoted
  std::string email;    // quoted
  std::string locator;  // p."rowid" or p."key": the order batches follow
  bool key_mode = false;
  sql::PredicateSpec predicate;
  std::vector<ColumnInfo> pending_columns;
  std::string single_reason;
};

class SqliteBatches final : public BatchStore {
 public:
  SqliteBatches(SqliteConnection& connection, sql::Executor& executor, SqliteBatchSetup setup)
      : connection_(connection), executor_(executor), setup_(std::move(setup)) {}

  void begin_pass() override;
  BatchResult run_next_batch(const BatchRequest& request) override;
  std::string explain(std::int64_t target_rows) override;
  void set_commit_observer(CommitObserver* observer) override { observer_ = observer; }
  std::vector<std::string> existing_keys(const std::vector<std::string>& keys) override;
  ReplicationLag replication_lag() override { return {}; }  // no replicas
  // A local COMMIT's outcome is always known.
  InDoubtOutcome resolve_in_doubt() override { return {}; }

 private:
  struct Candidate {
    OwnedValue locator;  // rowid (physical) or key value (keyset)
    PendingRow row;
  };

  // The WHERE of a batch statement: after the cursor, up to `upper` when set, matching.
  void append_range(sql::Builder& b, bool upper) const;
  std::string returning(bool whole_rows) const;
  sql::Slots batch_slots() const;
  void bind_range(SqliteStatement& statement, const sql::Statement& built,
                  const sqlite3_value* upper) const;
  OwnedValue row_after_cursor(std::int64_t offset);
  std::vector<Candidate> select_matches(const sqlite3_value* upper, std::int64_t limit);
  bool delete_batch(const SqliteTransaction& tx, const sqlite3_value* upper,
                    const std::vector<Candidate>& candidates, bool whole_rows, BatchResult& result);
  std::optional<RowError> delete_row(const SqliteTransaction& tx, SqliteStatement& one,
                                     const Candidate& candidate, bool whole_rows, BatchResult& out);
  void isolate(std::span<const Candidate> rows, bool whole_rows, BatchResult& result,
               bool known_refused);
  std::optional<RowError> delete_in_own_transaction(std::span<const Candidate> rows,
                                                    bool whole_rows, BatchResult& result);
  void commit_observed(SqliteTransaction& tx, const std::vector<PendingRow>& rows);
  sql::Statement delete_one_statement(bool whole_rows) const;
  PendingRow returned_row(const SqliteStatement& statement, bool whole_rows) const;
  void yield_to_other_writers();

  SqliteConnection& connection_;
  sql::Executor& executor_;
  SqliteBatchSetup setup_;
  CommitObserver* observer_ = nullptr;
  sql::Slots cutoffs_;  // the batch's creation-time cutoffs

  // Pass state; advanced only after a batch commits.
  OwnedValue cursor_;  // the last locator covered; null at the start of a pass
  bool exhausted_ = false;
  std::int64_t first_locator_ = 0;  // rowid range at begin_pass(), for progress
  std::int64_t last_locator_ = 0;
  std::chrono::steady_clock::time_point last_commit_{};  // when the last batch released the lock
  std::chrono::steady_clock::duration last_hold_{};      // how long it held it
};

}  // namespace batch_cleanup::store::sqlite
