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

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// A batch examines at most max(kMinScanRows, kScanFactor * target) rows after the cursor, so a
// table with few matches is covered by several short write transactions rather than one long one.
constexpr std::int64_t kMinScanRows = 65536;
constexpr std::int64_t kScanFactor = 8;
constexpr std::int64_t kMaxScanRows = std::int64_t{1} << 40;
// SQLite's write lock is not fair: a writer of the application waiting in its busy handler
// (which sleeps up to 100ms between attempts) would keep losing it to back-to-back batches.
// Between two batches the store leaves the lock free for as long as the last batch held it,
// up to this cap, so the application's writes get through.
constexpr std::chrono::milliseconds kMaxYield{100};

const sql::Dialect& dialect() { return sqlite_dialect(); }

// Slots a statement binds from sqlite3_values (after construction); given as NULL first.
const sql::Slots kValueSlots = {
    {"after", sql::Value{}}, {"upper", sql::Value{}}, {"locator", sql::Value{}}};

void tally(BatchResult& result) {
  result.deleted = static_cast<std::int64_t>(result.deleted_rows.size());
  result.skipped = 0;  // SQLite has no row locks: the batch holds the database's write lock
  result.no_longer_matching =
      result.matched - result.deleted - static_cast<std::int64_t>(result.failures.size());
}

}  // namespace

sql::Slots SqliteBatches::batch_slots() const {
  sql::Slots slots = cutoffs_;
  slots.insert(slots.end(), kValueSlots.begin(), kValueSlots.end());
  return slots;
}

void SqliteBatches::append_range(sql::Builder& b, bool upper) const {
  const std::string& loc = setup_.locator;
  // Rows with a NULL key are never addressed by key batches.
  if (cursor_) {
    b.sql(loc + " > ").slot("after");
  } else {
    b.sql(loc + " IS NOT NULL");
  }
  if (upper) b.sql(" AND " + loc + " <= ").slot("upper");
  b.sql(" AND ");
  sql::append_predicate(b, setup_.predicate, "p", sql::Probe::kPerRow);
}

// RETURNING names columns unqualified: SQLite 3.40 rejects p.col there on WITHOUT ROWID tables.
std::string SqliteBatches::returning(bool whole_rows) const {
  std::string out = " RETURNING " + setup_.key + ", " + setup_.email;
  if (!whole_rows) return out;
  // The whole row for the archive file; BLOBs as hex (JSON has no bytes).
  std::string fields;
  for (const auto& column : setup_.pending_columns) {
    const std::string quoted = config::quote_identifier(column.name);
    std::string literal = column.name;  // a name from the schema: escape its quotes
    for (std::size_t at = 0; (at = literal.find('\'', at)) != std::string::npos; at += 2) {
      literal.insert(at, 1, '\'');
    }
    fields += (fields.empty() ? "" : ", ") +
              ("'" + literal + "', CASE typeof(" + quoted + ") WHEN 'blob' THEN hex(" + quoted +
               ") ELSE " + quoted + " END");
  }
  return out + ", json_object(" + fields + ")";
}

void SqliteBatches::bind_range(SqliteStatement& statement, const sql::Statement& built,
                               const sqlite3_value* upper) const {
  if (cursor_) statement.bind(built.slot_number("after"), cursor_.get());
  if (upper != nullptr) statement.bind(built.slot_number("upper"), upper);
}

PendingRow SqliteBatches::returned_row(const SqliteStatement& statement, bool whole_rows) const {
  return {statement.text(0), statement.text(1), whole_rows ? statement.text(2) : std::string()};
}

sql::Statement SqliteBatches::delete_one_statement(bool whole_rows) const {
  sql::Builder b(dialect());
  b.sql("DELETE FROM " + setup_.pending + " AS p WHERE " + setup_.locator + " = ")
      .slot("locator")
      .sql(" AND ");
  sql::append_predicate(b, setup_.predicate, "p", sql::Probe::kPerRow);
  b.sql(returning(whole_rows));
  // delete_row() binds the locator as the statement's first parameter.
  return b.build();
}

void SqliteBatches::begin_pass() {
  connection_.begin_operation();
  cursor_.reset();
  exhausted_ = false;
  first_locator_ = last_locator_ = 0;
  if (!setup_.key_mode) {
    // Both ends of the rowid b-tree: O(log n), for progress only.
    SqliteStatement bounds(connection_, "SELECT min(" + setup_.locator + "), max(" +
                                            setup_.locator + ") FROM " + setup_.pending + " p");
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

OwnedValue SqliteBatches::row_after_cursor(std::int64_t offset) {
  sql::Builder b(dialect());
  b.sql("SELECT " + setup_.locator + " FROM " + setup_.pending + " p WHERE ");
  if (cursor_) {
    b.sql(setup_.locator + " > ").slot("after");
  } else {
    b.sql(setup_.locator + " IS NOT NULL");
  }
  b.sql(" ORDER BY " + setup_.locator + " LIMIT 1 OFFSET ").slot("offset");
  const sql::Statement built = b.build();
  sql::Slots slots = kValueSlots;
  slots.emplace_back("offset", offset);
  SqliteStatement find(connection_, built, slots);
  bind_range(find, built, nullptr);
  if (!find.step()) return nullptr;
  return find.value(0);
}

std::vector<SqliteBatches::Candidate> SqliteBatches::select_matches(const sqlite3_value* upper,
                                                                    std::int64_t limit) {
  sql::Builder b(dialect());
  b.sql("SELECT " + setup_.locator + ", p." + setup_.key + ", p." + setup_.email + ", ");
  sql::append_reason(b, setup_.predicate, "p", sql::Probe::kPerRow);
  b.sql(" FROM " + setup_.pending + " p WHERE ");
  append_range(b, upper != nullptr);
  b.sql(" ORDER BY " + setup_.locator + " LIMIT ").slot("limit");
  const sql::Statement built = b.build();
  sql::Slots slots = batch_slots();
  slots.emplace_back("limit", limit);
  SqliteStatement select(connection_, built, slots);
  bind_range(select, built, upper);
  std::vector<Candidate> out;
  while (select.step()) {
    out.push_back({select.value(0), {select.text(1), select.text(2)}});
    out.back().row.reason = select.text(3);
  }
  return out;
}

BatchResult SqliteBatches::run_next_batch(const BatchRequest& request) {
  const std::int64_t target_rows = std::clamp<std::int64_t>(request.target_rows, 1, kMaxScanRows);
  const bool whole_rows = request.detail == RowDetail::kWholeRows;
  const std::int64_t scan_rows =
      std::clamp(target_rows * kScanFactor, std::max(kMinScanRows, target_rows), kMaxScanRows);
  BatchResult result;
  auto phase_start = Clock::now();
  yield_to_other_writers();
  std::vector<Candidate> candidates;
  OwnedValue upper;  // inclusive upper bound of this batch's range; null: the end of the table
  bool end_of_table = false;
  bool isolate_each = false;
  {
    SqliteTransaction tx(connection_);
    const auto locked_at = Clock::now();
    // One "now" for the batch's SELECT and DELETE (and any isolation).
    cutoffs_ = cutoff_slots(connection_, setup_.predicate.min_age, setup_.predicate.expire_after);
    result.timings.wait_ms = ms_since(phase_start);  // yielding, then waiting for the lock
    phase_start = locked_at;
    // The batch's range: from the cursor to the target_rows-th matching row, but no further
    // than scan_rows rows, so a sparse table does not hold the write lock for a long scan.
    OwnedValue window_end = row_after_cursor(scan_rows - 1);
    candidates = select_matches(window_end.get(), target_rows);
    result.matched = static_cast<std::int64_t>(candidates.size());
    if (result.matched == target_rows) {
      upper.reset(sqlite3_value_dup(candidates.back().locator.get()));
      if (!upper) throw DatabaseError(ErrorKind::kFatal, "SQLITE_NOMEM", "out of memory");
    } else {
      upper = std::move(window_end);
      end_of_table = !upper;
    }
    result.timings.find_ms = ms_since(phase_start);
    phase_start = Clock::now();
    if (!candidates.empty() && !delete_batch(tx, upper.get(), candidates, whole_rows, result)) {
      result.events.push_back({BatchEvent::Kind::kTransactionRolledBack,
                               static_cast<std::int64_t>(candidates.size()), "", ""});
      isolate_each = true;
    }
    result.timings.delete_ms = ms_since(phase_start);
    if (!isolate_each) {
      phase_start = Clock::now();
      try {
        commit_observed(tx, result.deleted_rows);
        result.timings.commit_ms = ms_since(phase_start);
        last_commit_ = Clock::now();
        last_hold_ = last_commit_ - locked_at;
      } catch (const DatabaseError& e) {
        if (e.kind() != ErrorKind::kRowLevel) throw;
        // A deferred constraint (DEFERRABLE INITIALLY DEFERRED foreign key) refused the
        // COMMIT: no savepoint can tell which row, so the rows are isolated by halves.
        result.events.push_back({BatchEvent::Kind::kCommitRefused,
                                 static_cast<std::int64_t>(candidates.size()), e.sqlstate(),
                                 e.what()});
        isolate_each = true;
      }
    }
  }  // not committed: rolled back here
  if (isolate_each) {
    phase_start = Clock::now();
    result.deleted_rows.clear();
    result.failures.clear();
    isolate(candidates, whole_rows, result, /*known_refused=*/true);
    tally(result);
    result.timings.delete_ms += ms_since(phase_start);
  }

  tally_policies(result, setup_.single_reason);
  // The batch is durable: advance the pass.
  if (upper) cursor_ = std::move(upper);
  if (end_of_table) exhausted_ = true;
  result.exhausted = exhausted_;
  if (exhausted_) {
    result.progress = 1.0;
  } else if (!setup_.key_mode && cursor_ && last_locator_ > first_locator_) {
    const long double done = static_cast<long double>(sqlite3_value_int64(cursor_.get())) -
                             static_cast<long double>(first_locator_) + 1;
    const long double total =
        static_cast<long double>(last_locator_) - static_cast<long double>(first_locator_) + 1;
    result.progress = static_cast<double>(std::clamp<long double>(done / total, 0, 1));
  }
  return result;
}

// Deletes the batch's range with the predicate re-checked, in one statement under a savepoint.
// BEGIN IMMEDIATE holds the write lock, so the range holds exactly the selected candidates. When
// a constraint or trigger refuses, retries row by row, each under its own savepoint, recording
// the refused rows. Returns false when SQLite rolled the whole transaction back (a trigger's
// RAISE(ROLLBACK, ...)): the caller then isolates the rows.
bool SqliteBatches::delete_batch(const SqliteTransaction& tx, const sqlite3_value* upper,
                                 const std::vector<Candidate>& candidates, bool whole_rows,
                                 BatchResult& result) {
  connection_.exec("SAVEPOINT bc_batch");
  try {
    sql::Builder b(dialect());
    b.sql("DELETE FROM " + setup_.pending + " AS p WHERE ");
    append_range(b, upper != nullptr);
    b.sql(returning(whole_rows));
    const sql::Statement built = b.build();
    SqliteStatement range(connection_, built, batch_slots());
    bind_range(range, built, upper);
    // Under the write lock the rows and users cannot change between the SELECT of the
    // candidates and this DELETE: each deleted row's reason is its candidate's.
    std::unordered_map<std::string, const std::string*> reasons;
    for (const auto& candidate : candidates) reasons[candidate.row.key] = &candidate.row.reason;
    while (range.step()) {
      result.deleted_rows.push_back(returned_row(range, whole_rows));
      const auto found = reasons.find(result.deleted_rows.back().key);
      if (found != reasons.end()) result.deleted_rows.back().reason = *found->second;
    }
  } catch (const DatabaseError& e) {
    if (e.kind() != ErrorKind::kRowLevel) throw;
    result.deleted_rows.clear();
    if (!tx.active()) return false;
    result.events.push_back({BatchEvent::Kind::kBatchRefused,
                             static_cast<std::int64_t>(candidates.size()), e.sqlstate(), e.what()});
    connection_.exec("ROLLBACK TO SAVEPOINT bc_batch");
    const sql::Statement built = delete_one_statement(whole_rows);
    SqliteStatement one(connection_, built, batch_slots());
    for (const auto& candidate : candidates) {
      if (delete_row(tx, one, candidate, whole_rows, result)) return false;
    }
  }
  connection_.exec("RELEASE SAVEPOINT bc_batch");
  tally(result);
  return true;
}

// Deletes one candidate (predicate re-checked) under a savepoint of `tx`, adding it to
// out.deleted_rows, or to out.failures when a constraint or trigger refuses it. Returns the
// refusal instead when it rolled back the whole transaction (RAISE(ROLLBACK, ...)).
std::optional<RowError> SqliteBatches::delete_row(const SqliteTransaction& tx, SqliteStatement& one,
                                                  const Candidate& candidate, bool whole_rows,
                                                  BatchResult& out) {
  connection_.exec("SAVEPOINT bc_row");
  try {
    one.reset();
    one.bind(1, candidate.locator.get());
    while (one.step()) {
      out.deleted_rows.push_back(returned_row(one, whole_rows));
      out.deleted_rows.back().reason = candidate.row.reason;
    }
    connection_.exec("RELEASE SAVEPOINT bc_row");
  } catch (const DatabaseError& e) {
    if (e.kind() != ErrorKind::kRowLevel) throw;
    one.reset();
    RowError refusal{candidate.row, e.sqlstate(), e.what()};
    if (!tx.active()) return refusal;
    connection_.exec("ROLLBACK TO SAVEPOINT bc_row");
    connection_.exec("RELEASE SAVEPOINT bc_row");
    out.failures.push_back(std::move(refusal));
  }
  return std::nullopt;
}

// The fallback when the batch's rows cannot be told apart inside one transaction (a deferred
// constraint refused the COMMIT, or a trigger rolled the transaction back): the rows are split in
// halves, each half tried in its own transaction, until every refused row stands alone. k
// refused rows cost about 2k*log2(n/k) short transactions, not n.
void SqliteBatches::isolate(std::span<const Candidate> rows, bool whole_rows, BatchResult& result,
                            bool known_refused) {
  if (rows.empty()) return;
  if (rows.size() > 1 && known_refused) {
    const auto half = rows.size() / 2;
    isolate(rows.first(half), whole_rows, result, false);
    isolate(rows.subspan(half), whole_rows, result, false);
    return;
  }
  auto refusal = delete_in_own_transaction(rows, whole_rows, result);
  if (!refusal) return;
  if (rows.size() == 1) {
    result.failures.push_back(std::move(*refusal));
    return;
  }
  isolate(rows, whole_rows, result, true);
}

// Deletes `rows` in one transaction (rows refused at once are recorded, under savepoints);
// returns the refusal, with nothing committed, when the transaction as a whole was refused.
std::optional<RowError> SqliteBatches::delete_in_own_transaction(std::span<const Candidate> rows,
                                                                 bool whole_rows,
                                                                 BatchResult& result) {
  BatchResult part;
  {
    SqliteTransaction tx(connection_);
    {
      const sql::Statement built = delete_one_statement(whole_rows);
      SqliteStatement one(connection_, built, batch_slots());
      for (const auto& candidate : rows) {
        if (auto refusal = delete_row(tx, one, candidate, whole_rows, part)) return refusal;
      }
    }
    try {
      commit_observed(tx, part.deleted_rows);
    } catch (const DatabaseError& e) {
      if (e.kind() != ErrorKind::kRowLevel) throw;
      return RowError{rows.front().row, e.sqlstate(), e.what()};
    }
  }
  for (auto& row : part.deleted_rows) result.deleted_rows.push_back(std::move(row));
  for (auto& failure : part.failures) result.failures.push_back(std::move(failure));
  return std::nullopt;
}

void SqliteBatches::commit_observed(SqliteTransaction& tx, const std::vector<PendingRow>& rows) {
  CommitObserver* observer = rows.empty() ? nullptr : observer_;
  if (observer != nullptr) observer->before_commit(rows);
  try {
    tx.commit();
  } catch (...) {
    if (observer != nullptr) observer->after_commit(false);
    throw;
  }
  if (observer != nullptr) observer->after_commit(true);
}

std::string SqliteBatches::explain(std::int64_t target_rows) {
  connection_.begin_operation();
  std::string out;
  const auto plan = [&](const std::string& title, sql::Builder& b) {
    const sql::Statement built = b.build();
    out += "-- " + title + "\n" + built.text() + "\n";
    sql::Slots slots = batch_slots();
    slots.emplace_back("limit", target_rows);
    SqliteStatement explain(connection_, "EXPLAIN QUERY PLAN " + built.text());
    const auto values = built.values(slots);
    for (std::size_t i = 0; i < values.size(); ++i)
      explain.bind(static_cast<int>(i + 1), values[i]);
    while (explain.step()) out += explain.text(3) + "\n";
    out += "\n";
  };
  cutoffs_ = cutoff_slots(connection_, setup_.predicate.min_age, setup_.predicate.expire_after);
  {
    sql::Builder b(dialect());
    b.sql("SELECT " + setup_.locator + ", p." + setup_.key + ", p." + setup_.email + " FROM " +
          setup_.pending + " p WHERE " + setup_.locator + " > ")
        .slot("after")
        .sql(" AND ");
    sql::append_predicate(b, setup_.predicate, "p", sql::Probe::kPerRow);
    b.sql(" ORDER BY " + setup_.locator + " LIMIT ").slot("limit");
    plan("select the batch's matching rows (up to " + std::to_string(target_rows) + ")", b);
  }
  {
    sql::Builder b(dialect());
    b.sql("DELETE FROM " + setup_.pending + " AS p WHERE ");
    append_range(b, true);
    b.sql(returning(false));
    plan("delete the batch's range, predicate re-checked", b);
  }
  return out;
}

}  // namespace batch_cleanup::store::sqlite
