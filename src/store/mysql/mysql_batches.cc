#include "store/mysql/mysql_batches.h"

#include <algorithm>
#include <unordered_set>

#include "batch_cleanup/errors.h"
#include "store/reasons.h"
#include "store/sql/table_sql.h"

namespace batch_cleanup::store::mysql {
MysqlBatches::MysqlBatches(MysqlSession& session, sql::Executor& executor, MysqlBatchSetup setup)
    : session_(session),
      executor_(executor),
      setup_(std::move(setup)),
      statements_(build_batch_statements(setup_.tables, setup_.limits, setup_.skip_locked)),
      dependent_counts_(setup_.dependents, setup_.tables, setup_.limits) {}

void MysqlBatches::begin_pass() { begin_slice(PassSlice{}); }

std::vector<PassSlice> MysqlBatches::plan_slices(int count) {
  const std::int64_t rows = session_.run(statements_.row_count).integer(0, 0);
  std::vector<std::string> bounds;
  for (int i = 1; i < count; ++i) {
    const std::int64_t offset = rows * i / count;
    if (offset <= 0) continue;
    const auto bound = session_.run(statements_.slice_bound, {{"offset", offset - 1}});
    if (!bound.empty() && !bound.is_null(0, 0)) bounds.push_back(bound.text(0, 0));
  }
  return slices_between(bounds);
}

void MysqlBatches::begin_slice(const PassSlice& slice) {
  last_key_.reset();
  if (!slice.lower.empty()) last_key_ = slice.lower;
  slice_end_.reset();
  if (!slice.upper.empty()) slice_end_ = slice.upper;
  exhausted_ = false;
  if (setup_.replication_lag) (void)setup_.replication_lag();
}

sql::Slots MysqlBatches::window_slots(std::int64_t limit) const {
  sql::Slots slots{{"limit", limit}};
  if (last_key_) slots.emplace_back("after", key_value(setup_.tables, *last_key_));
  if (slice_end_) slots.emplace_back("slice_end", key_value(setup_.tables, *slice_end_));
  return slots;
}

// A keyset window's batch: the next `limit` matching rows after the pass's last key, read
// without locks; the fast path's single-table DELETE waits for no row lock (SET STATEMENT).
class MysqlBatches::Steps final : public NibbleSteps {
 public:
  explicit Steps(MysqlBatches& batches) : b_(batches) {}

  void begin_transaction() override {
    b_.session_.begin(false);
    if (b_.setup_.fence) b_.setup_.fence();
  }
  void commit() override { b_.session_.commit(); }
  void end_transaction() noexcept override { b_.session_.rollback(); }
  void exec(const std::string& sql) override { b_.session_.exec(sql); }

  void begin(const BatchRequest& request, std::int64_t bound) override {
    (void)bound;
    detail_ = request.detail;
    limit_ = std::max<std::int64_t>(1, request.target_rows);
    if (request.max_rows > 0) limit_ = std::min(limit_, request.max_rows);
    kind_ = b_.window_kind().index();
  }
  bool reads_window() const override { return true; }
  bool read_window(BatchResult& result) override {
    const auto window = b_.session_.run(b_.statements_.window[kind_], b_.window_slots(limit_));
    matched_ = window.integer(0, 0);
    result.matched = matched_;
    window_full_ = matched_ >= limit_;
    if (!window.is_null(0, 1)) window_end_ = window.text(0, 1);
    if (!window_end_) return false;
    slots_ = b_.window_slots(limit_);
    slots_.emplace_back("upto", key_value(b_.setup_.tables, *window_end_));
    return true;
  }
  // Several policies: the rows' reasons are read on the careful path. With the archive, the
  // rows are archived by key; rows that cascade are counted around a DELETE of locked rows:
  // the careful path for both. Without SKIP LOCKED (REPEATABLE READ under statement-based
  // logging), none: a range DELETE would lock the gaps the application inserts into.
  bool fast_path() override {
    return b_.setup_.skip_locked && !b_.setup_.single_reason.empty() &&
           detail_ == RowDetail::kCounts && b_.setup_.tables.archive.empty() &&
           !b_.dependent_counts_.active();
  }
  void run_fast(BatchResult& result) override {
    result.matched = matched_;
    result.deleted = b_.session_.run(b_.statements_.fast_delete[kind_], slots_).affected;
    result.no_longer_matching = std::max<std::int64_t>(0, result.matched - result.deleted);
  }
  std::int64_t rows_in_view() const override { return matched_; }
  // Rows were inserted into the window since it was read: take it the bounded way.
  Overflow overflow(std::int64_t) override { return Overflow::kCareful; }
  bool shrinkable() const override { return false; }
  void lock(BatchResult& result) override {
    result.matched = matched_;
    const bool whole = detail_ == RowDetail::kWholeRows;
    const auto locked =
        b_.session_.run((whole ? b_.statements_.lock_whole : b_.statements_.lock)[kind_], slots_);
    rows_.clear();
    rows_.reserve(locked.size());
    for (std::size_t r = 0; r < locked.size(); ++r) {
      rows_.emplace_back(locked.text(r, 0), locked.text(r, 1), whole ? locked.text(r, 3) : "");
      rows_.back().reason = locked.text(r, 2);
    }
    // A full lock (rows inserted into the window) ends the window at its last row.
    if (static_cast<std::int64_t>(rows_.size()) >= limit_ && !rows_.empty()) {
      window_end_ = rows_.back().key;
      window_full_ = true;
    }
    result.skipped =
        std::max<std::int64_t>(0, result.matched - static_cast<std::int64_t>(rows_.size()));
  }
  void delete_locked(BatchResult& result) override {
    const std::int64_t skipped_before = result.skipped;
    b_.delete_part(rows_, result);
    result.no_longer_matching =
        std::max<std::int64_t>(0, static_cast<std::int64_t>(rows_.size()) - result.deleted -
                                      static_cast<std::int64_t>(result.failures.size()) -
                                      (result.skipped - skipped_before));
    if (detail_ == RowDetail::kCounts) result.deleted_rows.clear();
  }
  std::string describe() const override {
    return "keyset window after " + b_.last_key_.value_or("the start");
  }
  // Committed: the pass moves past the window.
  BatchAdvance advance() override {
    // The batches, not these steps: a batch in doubt advances after they are gone.
    return [&b = b_, full = window_full_, end = window_end_](BatchResult& committed) {
      if (!full || !end) {
        b.exhausted_ = true;
      } else {
        b.last_key_ = end;
      }
      committed.exhausted = b.exhausted_;
      committed.progress = b.exhausted_ ? 1.0 : 0.0;
      tally_policies(committed, b.setup_.single_reason);
    };
  }
  // The commit's GTID, for the replicas' lag.
  void committed(const BatchRequest& request) override {
    if (request.track_commit_lsn && b_.setup_.replicas != nullptr) {
      b_.setup_.replicas->committed(b_.session_);
    }
  }
  void keep_in_doubt(const BatchResult& result, BatchAdvance advance) override {
    b_.in_doubt_ = InDoubt{result, std::move(advance)};
  }

 private:
  MysqlBatches& b_;
  RowDetail detail_ = RowDetail::kCounts;
  std::int64_t limit_ = 1;
  std::size_t kind_ = 0;  // WindowKind::index()
  std::int64_t matched_ = 0;
  bool window_full_ = false;
  std::optional<std::string> window_end_;
  sql::Slots slots_;
  std::vector<PendingRow> rows_;
};

BatchResult MysqlBatches::run_next_batch(const BatchRequest& request) {
  if (exhausted_) {
    BatchResult result;
    result.exhausted = true;
    result.progress = 1.0;
    return result;
  }
  Steps steps(*this);
  if (setup_.max_rows <= 0) return run_batch(steps, request);
  // The cluster's write-set limit bounds the window and what the batch may delete.
  BatchRequest bounded = request;
  bounded.target_rows = std::min(request.target_rows, setup_.max_rows);
  bounded.max_rows =
      request.max_rows > 0 ? std::min(request.max_rows, setup_.max_rows) : setup_.max_rows;
  return run_batch(steps, bounded);
}

void MysqlBatches::delete_part(std::span<const PendingRow> rows, BatchResult& result) {
  if (rows.empty()) return;
  std::vector<std::string> keys;
  keys.reserve(rows.size());
  for (const auto& row : rows) keys.push_back(row.key);
  session_.exec("SAVEPOINT bc_part");
  try {
    const auto before = dependent_counts_.lock(session_, keys);
    const std::int64_t deleted =
        setup_.tables.archive.empty()
            ? session_.run(delete_keys(setup_.tables, setup_.limits, keys, 0)).affected
            : archive_and_delete(rows);
    dependent_counts_.add_lost(session_, keys, before, result.dependent_rows);
    session_.exec("RELEASE SAVEPOINT bc_part");
    std::unordered_set<std::string> left;
    if (deleted < static_cast<std::int64_t>(rows.size())) {
      const auto remaining = session_.run(remaining_keys(setup_.tables, keys));
      for (std::size_t r = 0; r < remaining.size(); ++r) left.insert(remaining.text(r, 0));
    }
    for (const auto& row : rows) {
      if (!left.count(row.key)) result.deleted_rows.push_back(row);
    }
    result.deleted += deleted;
  } catch (const DatabaseError& e) {
    // The rows are this transaction's, but the optimizer may scan others for a short key list
    // (a small table): the DELETE waits for none, and halves until the keys are looked up.
    const bool held = e.cause() == ErrorCause::kLockTimeout;
    if (e.cause() != ErrorCause::kRowRefused && !held) throw;
    session_.exec("ROLLBACK TO SAVEPOINT bc_part");
    session_.exec("RELEASE SAVEPOINT bc_part");
    if (rows.size() == 1) {
      if (held) {
        ++result.skipped;
      } else {
        result.failures.push_back({rows.front(), e.code(), e.what()});
      }
      return;
    }
    if (!held) {
      result.events.push_back({BatchEvent::Kind::kBatchRefused,
                               static_cast<std::int64_t>(rows.size()), e.code(), e.what()});
    }
    const auto half = rows.size() / 2;
    delete_part(rows.first(half), result);
    delete_part(rows.subspan(half), result);
  }
}

std::int64_t MysqlBatches::archive_and_delete(std::span<const PendingRow> rows) {
  // One INSERT per reason (each row's, as the lock read it), then one DELETE of every key.
  std::vector<std::string> keys;
  std::vector<std::string> reasons;
  for (const auto& row : rows) {
    keys.push_back(row.key);
    if (std::find(reasons.begin(), reasons.end(), row.reason) == reasons.end()) {
      reasons.push_back(row.reason);
    }
  }
  std::int64_t archived = 0;
  for (const auto& reason : reasons) {
    std::vector<std::string> of_reason;
    for (const auto& row : rows) {
      if (row.reason == reason) of_reason.push_back(row.key);
    }
    archived += session_
                    .run(archive_keys(setup_.tables, setup_.limits, of_reason,
                                      *setup_.archive_cycle, reason))
                    .affected;
  }
  const std::int64_t deleted =
      session_.run(delete_archived(setup_.tables, setup_.limits, keys)).affected;
  if (deleted != archived || deleted != static_cast<std::int64_t>(rows.size())) {
    // The rows are this transaction's: this cannot happen with a unique key. Roll back.
    throw DatabaseError(ErrorCause::kOther, "",
                        "the archive and the delete disagree (" + std::to_string(rows.size()) +
                            " rows locked, " + std::to_string(archived) + " archived, " +
                            std::to_string(deleted) + " deleted): the batch is rolled back");
  }
  return deleted;
}

std::string MysqlBatches::explain(std::int64_t target_rows) {
  std::string out = "-- row locks: " + setup_.why + "\n\n";
  if (setup_.archive_named) {
    out +=
        "-- with the archive table, every batch takes the careful path: the locked rows are "
        "copied into the archive by key (INSERT ... SELECT ... WHERE key IN (...)), then "
        "exactly those keys are deleted, in the same transaction\n\n";
  }
  sql::Slots slots = window_slots(std::max<std::int64_t>(1, target_rows));
  // The first window as it would run: its end read now.
  const std::size_t kind = window_kind().index();
  const auto window = session_.run(statements_.window[kind], slots);
  slots.emplace_back(
      "upto", window.is_null(0, 1) ? sql::Value{} : key_value(setup_.tables, window.text(0, 1)));
  const std::pair<const char*, const sql::Statement*> steps[] = {
      {"the window: the next --batch-size matching rows, read without locks",
       &statements_.window[kind]},
      {"fast path: delete the window's matching rows, every policy re-checked",
       &statements_.fast_delete[kind]},
      {setup_.skip_locked ? "careful path: lock the window's free matching rows"
                          : "careful path: read the window's matching rows without locks (then "
                            "delete them by key, waiting for no row lock)",
       &statements_.lock[kind]},
  };
  for (const auto& [title, statement] : steps) {
    if (statement == &statements_.fast_delete[kind] && !setup_.skip_locked) continue;
    out += std::string("-- ") + title + "\n" + statement->text() + "\n";
    // EXPLAIN the statement itself (the SET STATEMENT prefix is not explainable).
    std::string text = statement->text();
    const auto for_at = text.find(" FOR ");
    if (text.rfind("SET STATEMENT", 0) == 0 && for_at != std::string::npos) {
      text = text.substr(for_at + 5);
    }
    const auto rows = session_.exec("EXPLAIN " + text, statement->values(slots));
    for (std::size_t r = 0; r < rows.size(); ++r) {
      std::string line;
      for (std::size_t c = 0; c < 10; ++c) {
        line += (c > 0 ? " | " : "") + (rows.is_null(r, c) ? std::string("NULL") : rows.text(r, c));
      }
      out += line + "\n";
    }
    out += "\n";
  }
  return out;
}

std::vector<std::string> MysqlBatches::existing_keys(const std::vector<std::string>& keys) {
  return sql::existing_keys(executor_, setup_.tables.pending, setup_.tables.key, "", keys);
}

InDoubtOutcome MysqlBatches::resolve_in_doubt() {
  InDoubtOutcome outcome;
  if (!in_doubt_) return outcome;
  InDoubt batch = std::move(*in_doubt_);
  in_doubt_.reset();
  outcome.state = setup_.commit_outcome ? setup_.commit_outcome() : InDoubtOutcome::State::kUnknown;
  if (outcome.state == InDoubtOutcome::State::kCommitted) {
    batch.advance(batch.result);
    outcome.result = std::move(batch.result);
  }
  return outcome;
}

}  // namespace batch_cleanup::store::mysql
