// MySQL/MariaDB batches: keyset windows over the pending key (InnoDB's clustered primary key),
// one READ COMMITTED transaction each. The window is the next target_rows matching rows, read
// without locks; the fast path deletes them with one single-table DELETE (pk > after AND pk <=
// upto AND every policy re-checked) that waits for no row lock, so under READ COMMITTED it locks
// only the rows it deletes and never the gaps the application inserts into. When a row is held
// (or refused, or the window grew past the batch's bound, or the rows must be listed), the
// careful path locks the window's free matching rows (FOR UPDATE SKIP LOCKED, at most the
// window's size) and deletes them by key, isolating refused rows by halves under savepoints.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "store/facts.h"
#include "store/mysql/mysql_batch_sql.h"
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
  BatchResult run_next_batch(const BatchRequest& request) override;
  std::string explain(std::int64_t target_rows) override;
  std::vector<std::string> existing_keys(const std::vector<std::string>& keys) override;
  // The --replica-url replicas' lag behind the pass's commits; zero without them.
  ReplicationLag replication_lag() override {
    return setup_.replicas != nullptr ? setup_.replicas->lag() : ReplicationLag{};
  }
  // Asks setup.commit_outcome whether the batch in doubt committed: then it counts, once.
  InDoubtOutcome resolve_in_doubt() override;

 private:
  class Steps;  // a keyset window's batch as the loop drives it

  sql::Slots window_slots(std::int64_t limit) const;
  // Deletes `rows` (locked by this transaction) with the predicate re-checked, halving around
  // a refused row until it stands alone.
  void delete_part(std::span<const PendingRow> rows, BatchResult& result);

  MysqlSession& session_;
  sql::Executor& executor_;
  MysqlBatchSetup setup_;
  MysqlBatchStatements statements_;
  std::optional<std::string> last_key_;  // the pass's last key covered
  bool exhausted_ = false;
  struct InDoubt {
    BatchResult result;
    BatchAdvance advance;
  };
  std::optional<InDoubt> in_doubt_;
};

}  // namespace batch_cleanup::store::mysql
