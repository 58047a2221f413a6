#include "store/sql/history_sql.h"

#include "batch_cleanup/errors.h"

namespace batch_cleanup::store::sql {
namespace {

// Columns of the history table, in the order record_run() binds and recent_runs() reads them.
constexpr const char* kColumns =
    "cycle_id, started_at, finished_at, host, mode, candidates, deleted, failed, skipped, "
    "batches, duration_ms, outcome, error, job";

}  // namespace

bool SqlHistoryTable::exists() {
  Builder b(executor_.dialect());
  executor_.dialect().table_exists(b, table_);
  return !executor_.run(b.build()).empty();
}

bool SqlHistoryTable::has_job_column() {
  Builder b(executor_.dialect());
  executor_.dialect().column_exists(b, table_, "job");
  return !executor_.run(b.build()).empty();
}

void SqlHistoryTable::make_ready() {
  const Dialect& d = executor_.dialect();
  if (!exists()) {
    using T = ColumnType;
    Builder create(d);
    create.sql("CREATE TABLE IF NOT EXISTS " + d.quote(table_) + " (" + d.generated_key("run_id") +
               ", cycle_id " + d.column_type(T::kText) + " NOT NULL, started_at " +
               d.column_type(T::kTimestamp) + " NOT NULL, finished_at " +
               d.column_type(T::kTimestamp) + " NOT NULL, host " + d.column_type(T::kText) +
               " NOT NULL, mode " + d.column_type(T::kText) + " NOT NULL");
    for (const char* count : {"candidates", "deleted", "failed", "skipped", "batches"}) {
      create.sql(std::string(", ") + count + " " + d.column_type(T::kInteger) + " NOT NULL");
    }
    create.sql(", duration_ms " + d.column_type(T::kReal) + " NOT NULL, outcome " +
               d.column_type(T::kText) + " NOT NULL, error " + d.column_type(T::kText) + ", job " +
               d.column_type(T::kText) + ")");
    try {
      executor_.run(create.build());
    } catch (const DatabaseError&) {
      // IF NOT EXISTS does not cover a concurrent CREATE: fine if the table is there now.
      if (!exists()) throw;
    }
  }
  if (!has_job_column()) {
    try {
      executor_.run(
          Builder(d).sql(d.add_column(d.quote(table_), "job", ColumnType::kText)).build());
    } catch (const DatabaseError&) {
      if (!has_job_column()) throw;  // else another session added it meanwhile
    }
  }
  ready_ = true;
}

void SqlHistoryTable::record_run(const RunRecord& run) {
  if (!ready_) make_ready();
  const Dialect& d = executor_.dialect();
  Builder b(d);
  b.sql("INSERT INTO " + d.quote(table_) + " (" + kColumns + ") VALUES (").value(run.cycle_id);
  b.sql(", ");
  d.timestamp(b, run.started_at);
  b.sql(", ");
  d.timestamp(b, run.finished_at);
  b.sql(", ").value(run.host).sql(", ").value(run.mode);
  for (const std::int64_t count :
       {run.candidates, run.deleted, run.failed, run.skipped, run.batches}) {
    b.sql(", ").value(count);
  }
  b.sql(", ").value(run.duration_ms).sql(", ").value(run.outcome);
  b.sql(", NULLIF(").value(run.error).cast("text").sql(", '')");
  b.sql(", ").value(run.job).sql(")");
  executor_.run(b.build());
}

std::vector<RunRecord> SqlHistoryTable::recent_runs(std::int64_t limit, const std::string& job) {
  if (!exists()) return {};
  const Dialect& d = executor_.dialect();
  // Rows of a table from before jobs belong to the only job there was.
  const std::string job_column =
      has_job_column() ? "coalesce(job, 'default')" : d.text("'default'");
  Builder b(d);
  b.sql("SELECT cycle_id, " + d.iso8601("started_at") + ", " + d.iso8601("finished_at") +
        ", host, mode, candidates, deleted, failed, skipped, batches, duration_ms, outcome, "
        "coalesce(error, ''), " +
        job_column + " FROM " + d.quote(table_) + " WHERE (")
      .value(job)
      .cast("text")
      .sql(" = '' OR " + job_column + " = ")
      .value(job)
      .sql(") ORDER BY run_id DESC LIMIT ")
      .value(std::max<std::int64_t>(0, limit));
  const Rows rows = executor_.run(b.build());
  std::vector<RunRecord> out;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    RunRecord run;
    run.cycle_id = rows.text(r, 0);
    run.started_at = rows.text(r, 1);
    run.finished_at = rows.text(r, 2);
    run.host = rows.text(r, 3);
    run.mode = rows.text(r, 4);
    run.candidates = rows.integer(r, 5);
    run.deleted = rows.integer(r, 6);
    run.failed = rows.integer(r, 7);
    run.skipped = rows.integer(r, 8);
    run.batches = rows.integer(r, 9);
    run.duration_ms = rows.real(r, 10);
    run.outcome = rows.text(r, 11);
    run.error = rows.text(r, 12);
    run.job = rows.text(r, 13);
    out.push_back(std::move(run));
  }
  return out;
}

}  // namespace batch_cleanup::store::sql
