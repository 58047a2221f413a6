#include "store/sqlite/sqlite_batches.h"

#include <algorithm>
#include <thread>
#include <unordered_map>

#include "store/reasons.h"
#include "store/sql/table_sql.h"
#include "store/sqlite/sqlite_dialect.h"
#include "store/sqlite/sqlite_executor.h"

namespace batch_cleanup::store::sqlite {
namespace {

using Clock = BatchClock;

constexpr std::int64_t kMaxRows = std::int64_t{1} << 40;
// A chunk examines at most this many times its rows after the cursor (the bound PostgreSQL's
// ranges keep too), so a table with few matches is covered by several short statements rather
// than one long scan under the write lock.
constexpr std::int64_t kWindowFactor = 4;
// SQLite's write lock is not fair: a writer of the application waiting in its busy handler
// (which sleeps up to 100ms between attempts) would keep losing it to back-to-back batches.
// Between two batches the store leaves the lock free for as long as the last batch held it,
// up to this cap, so the application's writes get through.
constexpr std::chrono::milliseconds kMaxYield{100};

// Slots bound from sqlite3_values after the others (given as NULL first).
const sql::Slots kValueSlots = {
    {"after", sql::Value{}}, {"upper", sql::Value{}}, {"locator", sql::Value{}}};

}  // namespace

void SqliteBatches::Bound::bind(SqliteStatement& statement, int index) const {
  if (has_rowid_) {
    statement.bind(index, rowid_);
  } else if (value_) {
    statement.bind(index, value_.get());
  }
}

SqliteBatches::Bound SqliteBatches::Bound::copy() const {
  if (has_rowid_) return Bound(rowid_);
  if (!value_) return {};
  OwnedValue copied(sqlite3_value_dup(value_.get()));
  if (!copied) throw DatabaseError(ErrorCause::kOther, "SQLITE_NOMEM", "out of memory");
  return Bound(std::move(copied));
}

SqliteBatches::Bound SqliteBatches::Bound::of(const OwnedValue& value) {
  OwnedValue copied(sqlite3_value_dup(value.get()));
  if (!copied) throw DatabaseError(ErrorCause::kOther, "SQLITE_NOMEM", "out of memory");
  return Bound(std::move(copied));
}

std::int64_t SqliteBatches::Bound::rowid() const {
  return has_rowid_ ? rowid_ : (value_ ? sqlite3_value_int64(value_.get()) : 0);
}

SqliteBatches::SqliteBatches(SqliteConnection& connection, sql::Executor& executor,
                             SqliteBatchSetup setup)
    : connection_(connection), executor_(executor), setup_(std::move(setup)), statements_(setup_) {
  needs_cutoffs_ = sql::reads_clock(setup_.predicate);
}

SqliteReturning SqliteBatches::returning_for(RowDetail detail) const {
  switch (detail) {
    case RowDetail::kWholeRows:
      return SqliteReturning::kWholeRows;
    case RowDetail::kKeys:
      return SqliteReturning::kKeys;
    case RowDetail::kCounts:
      break;
  }
  return setup_.single_reason.empty() ? SqliteReturning::kReason : SqliteReturning::kLocator;
}

SqliteStatement& SqliteBatches::prepare(const sql::Statement& built, const sql::Slots& extra) {
  SqliteStatement& statement = connection_.kept(built.text());
  statement.reset();
  sql::Slots slots = extra;
  slots.insert(slots.end(), cutoffs_.begin(), cutoffs_.end());
  slots.insert(slots.end(), kValueSlots.begin(), kValueSlots.end());
  statement.bind_all(built, slots);
  return statement;
}

void SqliteBatches::bind_range(SqliteStatement& statement, const sql::Statement& built,
                               const Bound& after, const Bound& upper) const {
  if (!after.empty()) after.bind(statement, built.slot_number("after"));
  if (!upper.empty()) upper.bind(statement, built.slot_number("upper"));
}

void SqliteBatches::begin_pass() {
  connection_.begin_operation();
  cursor_ = Bound();
  exhausted_ = false;
  first_locator_ = last_locator_ = 0;
  if (!setup_.key_mode) {
    // Both ends of the rowid b-tree: O(log n), for progress only.
    SqliteStatement bounds(connection_, "SELECT min(p." + setup_.locator_column + "), max(p." +
                                            setup_.locator_column + ") FROM " + setup_.pending +
                                            " p");
    if (bounds.step() && !bounds.is_null(0)) {
      first_locator_ = bounds.integer(0);
      last_locator_ = bounds.integer(1);
    }
  }
}

std::vector<std::string> SqliteBatches::existing_keys(const std::vector<std::string>& keys) {
  return sql::existing_keys(executor_, setup_.pending, setup_.key, "", keys);
}

void SqliteBatches::yield_to_other_writers() {
  if (last_commit_ == Clock::time_point{}) return;
  const auto gap = std::min<Clock::duration>(last_hold_, kMaxYield);
  const auto resume = last_commit_ + gap;
  if (Clock::now() < resume) std::this_thread::sleep_until(resume);
}

// The locator `offset` rows after `after`: the inclusive end of a window of offset + 1 rows.
// Empty when the table ends before.
SqliteBatches::Bound SqliteBatches::row_after(const Bound& after, std::int64_t offset) {
  const sql::Statement& built = statements_.window(!after.empty());
  SqliteStatement& find = prepare(built, {{"offset", offset}});
  SqliteReset done(find);
  bind_range(find, built, after, {});
  if (!find.step()) return {};
  if (!setup_.key_mode) return Bound(find.integer(0));
  return Bound(find.value(0));
}

std::vector<SqliteBatches::Candidate> SqliteBatches::select_matches(const Bound& after,
                                                                    const Bound& upper,
                                                                    std::int64_t limit) {
  const sql::Statement& built = statements_.select(!after.empty(), !upper.empty());
  SqliteStatement& select = prepare(built, {{"limit", limit}});
  SqliteReset done(select);
  bind_range(select, built, after, upper);
  std::vector<Candidate> out;
  while (select.step()) {
    out.push_back({select.value(0), {select.text(1), select.text(2)}});
    out.back().row.reason = select.text(3);
  }
  return out;
}

BatchResult SqliteBatches::run_next_batch(const BatchRequest& request) {
  const std::int64_t target_rows = std::clamp<std::int64_t>(request.target_rows, 1, kMaxRows);
  std::int64_t max_rows = kMaxChunks * target_rows;
  if (request.max_rows > 0) max_rows = std::min(max_rows, request.max_rows);
  max_rows = std::max(max_rows, target_rows);
  const bool whole_rows = request.detail == RowDetail::kWholeRows;
  BatchResult result;
  auto phase_start = Clock::now();
  yield_to_other_writers();
  const Bound start = cursor_.copy();  // where the batch starts
  Bound first_window;                  // the end of its first chunk's window
  std::int64_t first_limit = 0;
  Bound end = cursor_.copy();  // the last locator covered so far
  bool isolate_first = false;
  int chunks = 0;
  {
    SqliteTransaction tx(connection_);
    const auto locked_at = Clock::now();
    dependent_counts_.begin(connection_);
    // One "now" for the batch's statements (and any isolation).
    if (needs_cutoffs_) {
      cutoffs_ = cutoff_slots(connection_, setup_.predicate.min_age, setup_.predicate.expire_after);
    }
    result.timings.wait_ms = ms_since(phase_start);  // yielding, then waiting for the lock
    auto chunk_start = locked_at;
    while (true) {
      const std::int64_t limit = std::min(target_rows, max_rows - result.matched);
      Chunk chunk = run_chunk(tx, end, limit, request.detail, result);
      if (++chunks == 1) {
        first_window = chunk.window.copy();
        first_limit = limit;
      }
      if (chunk.rolled_back) {
        result.events.push_back({BatchEvent::Kind::kTransactionRolledBack, result.matched, "", ""});
        isolate_first = true;
        break;
      }
      end = std::move(chunk.end);
      const auto now = Clock::now();
      const auto chunk_time = now - chunk_start;
      chunk_start = now;
      // Another chunk while the matches keep coming, the bound allows it, and the write lock
      // would still be held for less than kHoldBudget.
      if (end.empty() || chunk.refused || chunk.taken < chunk.limit || chunks >= kMaxChunks ||
          result.matched >= max_rows || now - locked_at + chunk_time > kHoldBudget) {
        break;
      }
    }
    if (!isolate_first) {
      phase_start = Clock::now();
      try {
        dependent_counts_.end(connection_, result.dependent_rows);
        commit_observed(tx, result.deleted_rows);
        result.timings.commit_ms = ms_since(phase_start);
        last_commit_ = Clock::now();
        last_hold_ = last_commit_ - locked_at;
      } catch (const DatabaseError& e) {
        if (e.cause() != ErrorCause::kRowRefused) throw;
        // A deferred constraint (DEFERRABLE INITIALLY DEFERRED foreign key) refused the
        // COMMIT: no savepoint can tell which row, so the rows are isolated by halves.
        result.events.push_back(
            {BatchEvent::Kind::kCommitRefused, result.matched, e.code(), e.what()});
        isolate_first = true;
      }
    }
  }  // not committed: rolled back here
  if (isolate_first) {
    // Nothing of the transaction is left: its first chunk's rows are done again by halves, each
    // part in its own transaction, and the pass moves past that chunk only.
    phase_start = Clock::now();
    auto events = std::move(result.events);
    result = BatchResult();
    result.events = std::move(events);
    std::vector<Candidate> candidates;
    {
      SqliteTransaction tx(connection_);
      if (needs_cutoffs_) {
        cutoffs_ =
            cutoff_slots(connection_, setup_.predicate.min_age, setup_.predicate.expire_after);
      }
      candidates = select_matches(start, first_window, first_limit);
    }
    result.matched = static_cast<std::int64_t>(candidates.size());
    end = result.matched == first_limit ? Bound::of(candidates.back().locator)
                                        : std::move(first_window);
    isolate(candidates, whole_rows, result, /*known_refused=*/true);
    result.timings.delete_ms += ms_since(phase_start);
  }
  result.no_longer_matching =
      result.matched - result.deleted - static_cast<std::int64_t>(result.failures.size());
  tally_policies(result, setup_.single_reason);
  // The batch is durable: advance the pass.
  if (end.empty()) {
    exhausted_ = true;
  } else {
    cursor_ = std::move(end);
  }
  result.exhausted = exhausted_;
  if (exhausted_) {
    result.progress = 1.0;
  } else if (!setup_.key_mode && !cursor_.empty() && last_locator_ > first_locator_) {
    const long double done =
        static_cast<long double>(cursor_.rowid()) - static_cast<long double>(first_locator_) + 1;
    const long double total =
        static_cast<long double>(last_locator_) - static_cast<long double>(first_locator_) + 1;
    result.progress = static_cast<double>(std::clamp<long double>(done / total, 0, 1));
  }
  return result;
}

// One chunk of the open transaction: the matching rows among the next kWindowFactor x limit
// rows after `after`, at most `limit` of them, deleted with the predicate inside the DELETE,
// under a savepoint. When a constraint or trigger refuses the statement, the chunk's rows are
// deleted one by one, each under its own savepoint, and the refused ones recorded. The chunk
// ends at its last deleted row when it took `limit` rows, else at the end of its window.
SqliteBatches::Chunk SqliteBatches::run_chunk(const SqliteTransaction& tx, const Bound& after,
                                              std::int64_t limit, RowDetail detail,
                                              BatchResult& result) {
  Chunk chunk;
  chunk.limit = limit;
  const bool whole_rows = detail == RowDetail::kWholeRows;
  auto phase_start = Clock::now();
  // The window: from the cursor to the chunk's (kWindowFactor x limit)-th row.
  chunk.window = row_after(after, std::min(kMaxRows, kWindowFactor * limit) - 1);
  result.timings.find_ms += ms_since(phase_start);
  phase_start = Clock::now();
  const Tally before = tally_of(result);
  run("SAVEPOINT bc_chunk");
  try {
    if (setup_.key_mode) {
      const auto candidates = select_matches(after, chunk.window, limit);
      result.timings.find_ms += ms_since(phase_start);
      phase_start = Clock::now();
      take(candidates, chunk, result);
      if (!candidates.empty()) {
        delete_candidates(tx, after, chunk.end, candidates, whole_rows, chunk, result);
      }
    } else {
      delete_first_matches(after, limit, detail, chunk, result);
    }
  } catch (const DatabaseError& e) {
    if (e.cause() != ErrorCause::kRowRefused) throw;
    restore(before, result);
    if (!tx.active()) {
      chunk.rolled_back = true;
      return chunk;
    }
    if (setup_.key_mode) throw;  // delete_candidates() handles the refusals of its statement
    // Done again the careful way: the chunk's candidates, one by one.
    run("ROLLBACK TO SAVEPOINT bc_chunk");
    const auto candidates = select_matches(after, chunk.window, limit);
    take(candidates, chunk, result);
    result.events.push_back({BatchEvent::Kind::kBatchRefused, chunk.taken, e.code(), e.what()});
    chunk.refused = true;
    for (const auto& candidate : candidates) {
      if (delete_row(tx, candidate, whole_rows, result)) {
        restore(before, result);
        chunk.rolled_back = true;
        return chunk;
      }
    }
  }
  run("RELEASE SAVEPOINT bc_chunk");
  result.timings.delete_ms += ms_since(phase_start);
  return chunk;
}

void SqliteBatches::take(const std::vector<Candidate>& candidates, Chunk& chunk,
                         BatchResult& result) const {
  chunk.taken = static_cast<std::int64_t>(candidates.size());
  chunk.end =
      chunk.taken == chunk.limit ? Bound::of(candidates.back().locator) : chunk.window.copy();
  result.matched += chunk.taken;
}

SqliteBatches::Tally SqliteBatches::tally_of(const BatchResult& result) {
  return {result.matched, result.deleted, result.deleted_rows.size(), result.failures.size(),
          result.deleted_by_policy};
}

void SqliteBatches::restore(const Tally& tally, BatchResult& result) {
  result.matched = tally.matched;
  result.deleted = tally.deleted;
  result.deleted_rows.resize(tally.rows);
  result.failures.resize(tally.failures);
  result.deleted_by_policy = tally.by_policy;
}

void SqliteBatches::run(const char* sql) { connection_.exec_kept(sql); }

// Rowid order: deletes the window's first `limit` matching rows in one statement, tallying them
// into `result`. The chunk ends at the last deleted rowid when it took `limit` rows, else at
// the end of its window.
void SqliteBatches::delete_first_matches(const Bound& after, std::int64_t limit, RowDetail detail,
                                         Chunk& chunk, BatchResult& result) {
  const SqliteReturning returning = returning_for(detail);
  const sql::Statement& built =
      statements_.first_matches_delete(!after.empty(), !chunk.window.empty(), returning);
  SqliteStatement& statement = prepare(built, {{"limit", limit}});
  SqliteReset done(statement);
  bind_range(statement, built, after, chunk.window);
  std::int64_t rows = 0;
  std::int64_t last = 0;
  while (statement.step()) {
    const std::int64_t rowid = statement.integer(0);
    last = rows == 0 ? rowid : std::max(last, rowid);
    ++rows;
    switch (returning) {
      case SqliteReturning::kLocator:
        break;
      case SqliteReturning::kReason:
        count_reason(statement.text(1), result.deleted_by_policy);
        break;
      case SqliteReturning::kKeys:
      case SqliteReturning::kWholeRows:
        result.deleted_rows.push_back(
            {statement.text(2), statement.text(3),
             returning == SqliteReturning::kWholeRows ? statement.text(4) : std::string()});
        result.deleted_rows.back().reason = statement.text(1);
        count_reason(result.deleted_rows.back().reason, result.deleted_by_policy);
        break;
    }
  }
  if (returning == SqliteReturning::kLocator) {
    count_reason(setup_.single_reason, result.deleted_by_policy, rows);
  }
  result.deleted += rows;
  result.matched += rows;
  chunk.taken = rows;
  chunk.end = rows == limit ? Bound(last) : chunk.window.copy();
}

// Key order: deletes the range up to the last candidate with the predicate re-checked. Under the
// write lock the range holds exactly the candidates, so each deleted row's reason is its
// candidate's. When a constraint or trigger refuses the statement, retries row by row.
void SqliteBatches::delete_candidates(const SqliteTransaction& tx, const Bound& after,
                                      const Bound& upper, const std::vector<Candidate>& candidates,
                                      bool whole_rows, Chunk& chunk, BatchResult& result) {
  const Tally before = tally_of(result);
  run("SAVEPOINT bc_range");
  try {
    const sql::Statement& built =
        statements_.range_delete(!after.empty(), !upper.empty(), whole_rows);
    SqliteStatement& range = prepare(built);
    SqliteReset done(range);
    bind_range(range, built, after, upper);
    std::unordered_map<std::string, const std::string*> reasons;
    for (const auto& candidate : candidates) reasons[candidate.row.key] = &candidate.row.reason;
    while (range.step()) {
      result.deleted_rows.push_back(
          {range.text(0), range.text(1), whole_rows ? range.text(2) : std::string()});
      const auto found = reasons.find(result.deleted_rows.back().key);
      if (found != reasons.end()) result.deleted_rows.back().reason = *found->second;
      count_reason(result.deleted_rows.back().reason, result.deleted_by_policy);
      ++result.deleted;
    }
  } catch (const DatabaseError& e) {
    if (e.cause() != ErrorCause::kRowRefused) throw;
    restore(before, result);
    if (!tx.active()) throw;  // run_chunk() sees the transaction gone
    result.events.push_back({BatchEvent::Kind::kBatchRefused,
                             static_cast<std::int64_t>(candidates.size()), e.code(), e.what()});
    run("ROLLBACK TO SAVEPOINT bc_range");
    chunk.refused = true;
    for (const auto& candidate : candidates) {
      if (auto refusal = delete_row(tx, candidate, whole_rows, result)) {
        throw DatabaseError(ErrorCause::kRowRefused, refusal->sqlstate, refusal->message);
      }
    }
  }
  run("RELEASE SAVEPOINT bc_range");
}

std::string SqliteBatches::explain(std::int64_t target_rows) {
  connection_.begin_operation();
  std::string out;
  const auto plan = [&](const std::string& title, const sql::Statement& built) {
    out += "-- " + title + "\n" + built.text() + "\n";
    sql::Slots slots = {{"limit", target_rows}, {"offset", kWindowFactor * target_rows - 1}};
    slots.insert(slots.end(), cutoffs_.begin(), cutoffs_.end());
    slots.insert(slots.end(), kValueSlots.begin(), kValueSlots.end());
    SqliteStatement explain(connection_, "EXPLAIN QUERY PLAN " + built.text());
    const auto values = built.values(slots);
    for (std::size_t i = 0; i < values.size(); ++i)
      explain.bind(static_cast<int>(i + 1), values[i]);
    while (explain.step()) out += explain.text(3) + "\n";
    out += "\n";
  };
  if (needs_cutoffs_) {
    cutoffs_ = cutoff_slots(connection_, setup_.predicate.min_age, setup_.predicate.expire_after);
  }
  const std::string window = std::to_string(kWindowFactor * target_rows);
  plan("the end of the chunk's window (" + window + " rows after the cursor)",
       statements_.window(true));
  if (setup_.key_mode) {
    plan("select the chunk's matching rows (up to " + std::to_string(target_rows) + ")",
         statements_.select(true, true));
    plan("delete the chunk's range, predicate re-checked",
         statements_.range_delete(true, true, false));
  } else {
    plan("delete the window's first " + std::to_string(target_rows) + " matching rows (up to " +
             std::to_string(kMaxChunks) + " chunks per transaction)",
         statements_.first_matches_delete(true, true, returning_for(RowDetail::kCounts)));
  }
  return out;
}

}  // namespace batch_cleanup::store::sqlite
