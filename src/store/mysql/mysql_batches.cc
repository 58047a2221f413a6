#include "store/mysql/mysql_batches.h"

#include <chrono>
#include <unordered_set>

#include "store/commit_observer.h"
#include "store/reasons.h"
#include "store/sql/table_sql.h"

namespace batch_cleanup::store::mysql {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// A batch never deletes more than this many times its target rows.
constexpr double kMaxScanFactor = 4.0;

// Rolls the transaction back unless it was committed.
class BatchTransaction {
 public:
  explicit BatchTransaction(MysqlSession& session) : session_(session) { session_.begin(false); }
  ~BatchTransaction() { session_.rollback(); }
  BatchTransaction(const BatchTransaction&) = delete;
  BatchTransaction& operator=(const BatchTransaction&) = delete;

 private:
  MysqlSession& session_;
};

}  // namespace

MysqlBatches::MysqlBatches(MysqlSession& session, sql::Executor& executor, MysqlBatchSetup setup)
    : session_(session),
      executor_(executor),
      setup_(std::move(setup)),
      statements_(build_batch_statements(setup_.tables, setup_.limits)) {}

void MysqlBatches::begin_pass() {
  last_key_.reset();
  exhausted_ = false;
}

sql::Slots MysqlBatches::window_slots(std::int64_t limit) const {
  sql::Slots slots{{"limit", limit}};
  if (last_key_) slots.emplace_back("after", key_value(setup_.tables, *last_key_));
  return slots;
}

BatchResult MysqlBatches::run_next_batch(const BatchRequest& request) {
  BatchResult result;
  if (exhausted_) {
    result.exhausted = true;
    result.progress = 1.0;
    return result;
  }
  const std::int64_t target = std::max<std::int64_t>(1, request.target_rows);
  std::int64_t bound = static_cast<std::int64_t>(kMaxScanFactor * static_cast<double>(target));
  std::int64_t limit = target;
  if (request.max_rows > 0) {
    bound = std::min(bound, request.max_rows);
    limit = std::min(limit, request.max_rows);
  }
  const std::size_t kind = last_key_ ? 1 : 0;
  std::optional<std::string> window_end;
  bool window_full = false;
  {
    auto phase = Clock::now();
    BatchTransaction tx(session_);
    if (setup_.fence) setup_.fence();
    const auto window = session_.run(statements_.window[kind], window_slots(limit));
    result.matched = window.integer(0, 0);
    window_full = result.matched >= limit;
    if (!window.is_null(0, 1)) window_end = window.text(0, 1);
    result.timings.find_ms = ms_since(phase);
    phase = Clock::now();
    if (window_end) {
      auto slots = window_slots(limit);
      slots.emplace_back("upto", key_value(setup_.tables, *window_end));
      // Several policies: the rows' reasons are read on the careful path.
      bool careful = setup_.single_reason.empty() || request.detail != RowDetail::kCounts;
      if (!careful) {
        session_.exec("SAVEPOINT bc_fast");
        try {
          const auto deleted = session_.run(statements_.fast_delete[kind], slots);
          if (deleted.affected > bound) {
            // Rows were inserted into the window since it was read: take it the bounded way.
            session_.exec("ROLLBACK TO SAVEPOINT bc_fast");
            careful = true;
          } else {
            result.deleted = deleted.affected;
            result.no_longer_matching = std::max<std::int64_t>(0, result.matched - result.deleted);
          }
        } catch (const DatabaseError& e) {
          if (e.cause() != ErrorCause::kLockTimeout && e.cause() != ErrorCause::kRowRefused) throw;
          result.events.push_back(
              {BatchEvent::Kind::kRangeHeldOrRefused, result.matched, e.code(),
               "keyset window after " + last_key_.value_or("the start") + ": " + e.what()});
          session_.exec("ROLLBACK TO SAVEPOINT bc_fast");
          careful = true;
        }
        session_.exec("RELEASE SAVEPOINT bc_fast");
      }
      result.timings.delete_ms = ms_since(phase);
      if (careful) {
        phase = Clock::now();
        const auto locked = session_.run(statements_.lock[kind], slots);
        std::vector<PendingRow> rows;
        rows.reserve(locked.size());
        for (std::size_t r = 0; r < locked.size(); ++r) {
          rows.emplace_back(locked.text(r, 0), locked.text(r, 1));
          rows.back().reason = locked.text(r, 2);
        }
        // A full lock (rows inserted into the window) ends the window at its last row.
        if (static_cast<std::int64_t>(rows.size()) >= limit && !rows.empty()) {
          window_end = rows.back().key;
          window_full = true;
        }
        result.skipped =
            std::max<std::int64_t>(0, result.matched - static_cast<std::int64_t>(rows.size()));
        result.timings.find_ms += ms_since(phase);
        phase = Clock::now();
        const std::int64_t skipped_before = result.skipped;
        delete_part(rows, result);
        result.no_longer_matching =
            std::max<std::int64_t>(0, static_cast<std::int64_t>(rows.size()) - result.deleted -
                                          static_cast<std::int64_t>(result.failures.size()) -
                                          (result.skipped - skipped_before));
        if (request.detail == RowDetail::kCounts) result.deleted_rows.clear();
        result.timings.delete_ms += ms_since(phase);
      }
    }
    phase = Clock::now();
    try {
      commit_observed(observer_, result.deleted_rows, [&] { session_.commit(); });
    } catch (const DatabaseError& e) {
      if (e.cause() == ErrorCause::kInDoubt) in_doubt_ = true;
      throw;
    }
    result.timings.commit_ms = ms_since(phase);
  }
  // Committed: the pass moves past the window.
  if (!window_full || !window_end) {
    exhausted_ = true;
  } else {
    last_key_ = window_end;
  }
  result.exhausted = exhausted_;
  result.progress = exhausted_ ? 1.0 : 0.0;
  tally_policies(result, setup_.single_reason);
  return result;
}

void MysqlBatches::delete_part(std::span<const PendingRow> rows, BatchResult& result) {
  if (rows.empty()) return;
  std::vector<std::string> keys;
  keys.reserve(rows.size());
  for (const auto& row : rows) keys.push_back(row.key);
  session_.exec("SAVEPOINT bc_part");
  try {
    const auto deleted = session_.run(delete_keys(setup_.tables, setup_.limits, keys, 0));
    session_.exec("RELEASE SAVEPOINT bc_part");
    std::unordered_set<std::string> left;
    if (deleted.affected < static_cast<std::int64_t>(rows.size())) {
      const auto remaining = session_.run(remaining_keys(setup_.tables, keys));
      for (std::size_t r = 0; r < remaining.size(); ++r) left.insert(remaining.text(r, 0));
    }
    for (const auto& row : rows) {
      if (!left.count(row.key)) result.deleted_rows.push_back(row);
    }
    result.deleted += deleted.affected;
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

std::string MysqlBatches::explain(std::int64_t target_rows) {
  std::string out;
  sql::Slots slots = window_slots(std::max<std::int64_t>(1, target_rows));
  // The first window as it would run: its end read now.
  const auto window = session_.run(statements_.window[last_key_ ? 1 : 0], slots);
  slots.emplace_back(
      "upto", window.is_null(0, 1) ? sql::Value{} : key_value(setup_.tables, window.text(0, 1)));
  const std::size_t kind = last_key_ ? 1 : 0;
  const std::pair<const char*, const sql::Statement*> steps[] = {
      {"the window: the next --batch-size matching rows, read without locks",
       &statements_.window[kind]},
      {"fast path: delete the window's matching rows, every policy re-checked",
       &statements_.fast_delete[kind]},
      {"careful path: lock the window's free matching rows", &statements_.lock[kind]},
  };
  for (const auto& [title, statement] : steps) {
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
  in_doubt_ = false;
  outcome.state = InDoubtOutcome::State::kUnknown;
  return outcome;
}

}  // namespace batch_cleanup::store::mysql
