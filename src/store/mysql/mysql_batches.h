// MySQL/MariaDB batches: keyset windows over the pending key (InnoDB's clustered primary key),
// one READ COMMITTED transaction each. The window is the next target_rows matching rows, read
// without locks; the fast path deletes them with one single-table DELETE (pk > after AND pk <=
// upto AND every policy re-checked) that waits for no row lock, so under READ COMMITTED it locks
// only the rows it deletes and never the gaps the application inserts into. When a row is held
// (or refused, or the window grew past the batch's bound, or the rows must be listed), the
// careful path locks the window's free matching rows (FOR UPDATE SKIP LOCKED, at most the
// window's size) and deletes them by key, isolating refused rows by halves under savepoints.
// When foreign keys cascade from the pending table (or set NULL), every batch takes the careful
// path: the rows below the locked pending rows are locked and counted around each DELETE.
// With the archive table (MySQL has no DELETE ... RETURNING), every batch goes the careful way:
// the locked rows (every policy checked by the locking read) are copied into the archive by key
// (INSERT ... SELECT), then exactly those keys are deleted, in the same transaction; the two
// counts must agree or the batch rolls back.
#pragma once

#include <algorithm>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "store/facts.h"
#include "store/mysql/mysql_batch_sql.h"
#include "store/mysql/mysql_dependent_counts.h"
#include "store/mysql/mysql_replicas.h"
#include "store/mysql/mysql_session.h"
#include "store/nibble_loop.h"

namespace batch_cleanup::store::mysql {

struct MysqlBatchSetup {
  MysqlBatchTables tables;
  StatementLimits limits;
  std::string single_reason;  // the reason of every deleted row; empty with several policies
  // Run first in every batch transaction: proves (and keeps until it ends) the instance lock.
  std::function<void()> fence;
  // The foreign keys a delete acts through (BatchPlan::dependents): what the deletes take with
  // them or change is counted (MysqlDependentCounts); such batches take the careful path.
  std::vector<DependentTable> dependents;
  // With the archive (tables.archive): the cycle its rows are archived under (set by
  // ArchiveTable::begin_cycle(); not owned).
  const std::string* archive_cycle = nullptr;
  // --archive-table is set (explain says how its batches run; explain itself writes nothing).
  bool archive_named = false;
  // The most rows a batch may delete (BatchPlan::max_batch_rows); 0: no limit.
  std::int64_t max_rows = 0;
  // Reads how far replication is behind (Galera flow control); empty: nothing to watch. Read
  // once when a pass begins too, so that the first batch's reading has something to compare.
  std::function<ReplicationLag()> replication_lag;
  // After a batch's COMMIT was in doubt and the session connected again: whether it committed
  // (the marker the fence wrote in the batch's transaction); unset: kUnknown.
  std::function<InDoubtOutcome::State()> commit_outcome;
  // FOR UPDATE SKIP LOCKED may be used (BatchPlan::skip_locked). Without it (statement-based
  // binary logging) a batch takes no range: the window's rows are read without locks and
  // deleted by key, each held row skipped at once.
  bool skip_locked = true;
  std::string why;  // which applies and why, for explain
  // The replicas --max-replication-lag watches (--replica-url); null: none.
  MysqlReplicas* replicas = nullptr;
};

// The batches over the one batch loop (store/nibble_loop.h): the window is read first (without
// locks, its time counted as finding); a fast path that deleted more than the bound goes the
// careful way, whose lock is bounded by the window's LIMIT.
class MysqlBatches final : public NibbleLoop {
 public:
  MysqlBatches(MysqlSession& session, sql::Executor& executor, MysqlBatchSetup setup);

  void begin_pass() override;
  // Slices of the primary key at equal shares of its rows (counted, then each bound read at its
  // offset): (lower, upper], the first from the smallest key, the last to the end of the table.
  // Fewer slices on a table of fewer rows than `count`.
  std::vector<PassSlice> plan_slices(int count) override;
  void begin_slice(const PassSlice& slice) override;
  BatchResult run_next_batch(const BatchRequest& request) override;
  std::string explain(std::int64_t target_rows) override;
  std::vector<std::string> existing_keys(const std::vector<std::string>& keys) override;
  // Galera flow control (setup.replication_lag) and the --replica-url replicas' lag behind the
  // pass's commits (setup.replicas), whichever is further behind; zero without either.
  ReplicationLag replication_lag() override {
    ReplicationLag lag = setup_.replication_lag ? setup_.replication_lag() : ReplicationLag{};
    if (setup_.replicas != nullptr) {
      const ReplicationLag replicas = setup_.replicas->lag();
      lag.time = std::max(lag.time, replicas.time);
      lag.bytes = std::max(lag.bytes, replicas.bytes);
      lag.standbys += replicas.standbys;
    }
    return lag;
  }
  // Asks setup.commit_outcome whether the batch in doubt committed: then it counts, once.
  InDoubtOutcome resolve_in_doubt() override;

 private:
  class Steps;  // a keyset window's batch as the loop drives it

  sql::Slots window_slots(std::int64_t limit) const;
  WindowKind window_kind() const { return {last_key_.has_value(), slice_end_.has_value()}; }
  // Deletes `rows` (locked by this transaction) with the predicate re-checked, halving around
  // a refused row until it stands alone.
  void delete_part(std::span<const PendingRow> rows, BatchResult& result);
  // Archives `rows` (locked by this transaction) and deletes exactly them; returns how many.
  std::int64_t archive_and_delete(std::span<const PendingRow> rows);

  MysqlSession& session_;
  sql::Executor& executor_;
  MysqlBatchSetup setup_;
  MysqlBatchStatements statements_;
  MysqlDependentCounts dependent_counts_;
  std::optional<std::string> last_key_;   // the pass's last key covered
  std::optional<std::string> slice_end_;  // a worker's slice ends at this key (included)
  bool exhausted_ = false;
  struct InDoubt {
    BatchResult result;
    BatchAdvance advance;
  };
  std::optional<InDoubt> in_doubt_;
};

}  // namespace batch_cleanup::store::mysql
