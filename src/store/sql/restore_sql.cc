#include "store/sql/restore_sql.h"

namespace batch_cleanup::store::sql {

void append_restore_filter(Builder& b, const RestoreRequest& request) {
  b.sql("(");
  if (!request.cycle_id.empty()) {
    b.sql("a.cycle_id = ").value(request.cycle_id).sql(" AND ");
  }
  if (!request.since.empty()) {
    b.dialect().written_since(b, "a.archived_at", request.since);
    b.sql(" AND ");
  }
  b.sql(b.dialect().true_value() + ")");
}

void append_key_conflict(Builder& b, const RestoreTables& tables, const std::string& row) {
  b.sql("EXISTS (SELECT 1 FROM " + tables.pending + " x WHERE x." + tables.key + " = " + row + "." +
        tables.key + ")");
}

void append_email_conflict(Builder& b, const RestoreTables& tables, const std::string& row) {
  b.sql("EXISTS (SELECT 1 FROM " + tables.pending + " x WHERE x." + tables.email + " = " + row +
        "." + tables.email + ")");
}

RestoreResult restore_archived(Executor& executor, const RestoreTables& tables,
                               const RestoreRequest& request, bool dry_run,
                               const std::function<std::int64_t()>& insert) {
  const Dialect& d = executor.dialect();
  RestoreResult result;
  auto tx = executor.begin(dry_run);
  {
    Builder b(d);
    b.sql("SELECT count(*) FROM " + tables.archive + " a WHERE ");
    append_restore_filter(b, request);
    result.selected = executor.run(b.build()).integer(0, 0);
  }
  {
    Builder b(d);
    b.sql("SELECT " + d.text("a." + tables.key) + ", " + d.text("a." + tables.email) +
          ", CASE WHEN ");
    append_key_conflict(b, tables, "a");
    b.sql(" THEN 1 ELSE 0 END FROM " + tables.archive + " a WHERE ");
    append_restore_filter(b, request);
    b.sql(" AND (");
    append_key_conflict(b, tables, "a");
    b.sql(" OR ");
    append_email_conflict(b, tables, "a");
    b.sql(") ORDER BY a." + tables.key + " LIMIT ").value(std::int64_t{kMaxListedConflicts});
    const Rows rows = executor.run(b.build());
    for (std::size_t r = 0; r < rows.size(); ++r) {
      result.conflicts.push_back({{rows.text(r, 0), rows.text(r, 1)},
                                  rows.integer(r, 2) != 0 ? "key exists in the pending table"
                                                          : "email exists in the pending table"});
    }
  }
  if (dry_run) {
    Builder b(d);
    b.sql("SELECT count(DISTINCT a." + tables.key + ") FROM " + tables.archive + " a WHERE ");
    append_restore_filter(b, request);
    b.sql(" AND NOT ");
    append_key_conflict(b, tables, "a");
    b.sql(" AND NOT ");
    append_email_conflict(b, tables, "a");
    result.restored = executor.run(b.build()).integer(0, 0);
  } else {
    result.restored = insert();
  }
  tx->commit();
  result.skipped = result.selected - result.restored;
  return result;
}

}  // namespace batch_cleanup::store::sql
