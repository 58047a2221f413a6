// SQLite batches, the careful path: a refused row isolated under a savepoint, a refused
// transaction split in halves until every refused row stands alone, and the commit the archive
// file observes.
#include "store/reasons.h"
#include "store/sqlite/sqlite_batches.h"

namespace batch_cleanup::store::sqlite {

// Deletes one candidate (predicate re-checked) under a savepoint of `tx`, adding it to
// out.deleted_rows, or to out.failures when a constraint or trigger refuses it. Returns the
// refusal instead when it rolled back the whole transaction (RAISE(ROLLBACK, ...)).
std::optional<RowError> SqliteBatches::delete_row(const SqliteTransaction& tx,
                                                  const Candidate& candidate, bool whole_rows,
                                                  BatchResult& out) {
  run("SAVEPOINT bc_row");
  try {
    const sql::Statement& built = statements_.delete_one(whole_rows);
    SqliteStatement& one = prepare(built);
    SqliteReset done(one);
    one.bind(built.slot_number("locator"), candidate.locator.get());
    while (one.step()) {
      out.deleted_rows.push_back(
          {one.text(0), one.text(1), whole_rows ? one.text(2) : std::string()});
      out.deleted_rows.back().reason = candidate.row.reason;
      count_reason(candidate.row.reason, out.deleted_by_policy);
      ++out.deleted;
    }
    run("RELEASE SAVEPOINT bc_row");
  } catch (const DatabaseError& e) {
    if (e.cause() != ErrorCause::kRowRefused) throw;
    RowError refusal{candidate.row, e.code(), e.what()};
    if (!tx.active()) return refusal;
    run("ROLLBACK TO SAVEPOINT bc_row");
    run("RELEASE SAVEPOINT bc_row");
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
    dependent_counts_.begin(connection_);
    for (const auto& candidate : rows) {
      if (auto refusal = delete_row(tx, candidate, whole_rows, part)) return refusal;
    }
    try {
      dependent_counts_.end(connection_, part.dependent_rows);
      commit_observed(tx, part.deleted_rows);
    } catch (const DatabaseError& e) {
      if (e.cause() != ErrorCause::kRowRefused) throw;
      return RowError{rows.front().row, e.code(), e.what()};
    }
  }
  for (auto& row : part.deleted_rows) result.deleted_rows.push_back(std::move(row));
  for (auto& failure : part.failures) result.failures.push_back(std::move(failure));
  result.deleted += part.deleted;
  result.deleted_by_policy += part.deleted_by_policy;
  for (const auto& count : part.dependent_rows) add_dependent_count(result.dependent_rows, count);
  return std::nullopt;
}

void SqliteBatches::commit_observed(SqliteTransaction& tx, const std::vector<PendingRow>& rows) {
  store::commit_observed(observer_, rows, [&] { tx.commit(); });
}

}  // namespace batch_cleanup::store::sqlite
