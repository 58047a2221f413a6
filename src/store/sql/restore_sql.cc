#include "store/sql/restore_sql.h"

#include <algorithm>
#include <cctype>

namespace batch_cleanup::store::sql {
namespace {

// One reason a row cannot go back: pending rows with the same values in `columns`.
struct ConflictCheck {
  std::string constraint;
  std::vector<std::string> columns;  // as the catalog names them
  std::string reason;
};

bool same_column(const RestoreTables& tables, const std::string& a, const std::string& b) {
  if (!tables.columns_nocase) return a == b;
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

// The unique index on exactly `column`, or "".
std::string index_on(const RestoreTables& tables, const std::string& column) {
  for (const auto& index : tables.unique_indexes) {
    if (index.columns.size() == 1 && same_column(tables, index.columns[0], column)) {
      return index.name;
    }
  }
  return "";
}

// The key rule, the email rule, then every other unique constraint or index.
std::vector<ConflictCheck> conflict_checks(const RestoreTables& tables) {
  std::vector<ConflictCheck> checks = {
      {index_on(tables, tables.key_column), {tables.key_column}, "key exists in the pending table"},
      {index_on(tables, tables.email_column),
       {tables.email_column},
       "email exists in the pending table"}};
  for (const auto& index : tables.unique_indexes) {
    if (index.columns.empty()) continue;
    const bool covered =
        index.columns.size() == 1 && (same_column(tables, index.columns[0], tables.key_column) ||
                                      same_column(tables, index.columns[0], tables.email_column));
    if (covered) continue;
    std::string columns;
    for (const auto& column : index.columns) columns += (columns.empty() ? "" : ", ") + column;
    checks.push_back(
        {index.name, index.columns,
         columns + (index.columns.size() == 1 ? " exists" : " exist") + " in the pending table"});
  }
  return checks;
}

// ", CASE WHEN <condition> THEN 1 ELSE 0 END, a.col1, a.col2 ...": whether an archived row meets
// a conflict, and the archived values of the columns it concerns (as text), for the report.
template <typename Condition>
void append_flag_and_values(Builder& b, const Condition& condition,
                            const std::vector<std::string>& columns) {
  b.sql(", CASE WHEN ");
  condition();
  b.sql(" THEN 1 ELSE 0 END");
  for (const auto& column : columns) {
    b.sql(", " + b.dialect().text("a." + b.dialect().quote(column)));
  }
}

void append_conflict(Builder& b, const RestoreTables& tables, const ConflictCheck& check) {
  const Dialect& d = b.dialect();
  b.sql("EXISTS (SELECT 1 FROM " + tables.pending + " x WHERE ");
  for (std::size_t c = 0; c < check.columns.size(); ++c) {
    const std::string column = d.quote(check.columns[c]);
    b.sql((c == 0 ? "" : " AND ") + std::string("x.") + column + " = a." + column);
  }
  b.sql(")");
}

// The selected archive rows and which checks each fails, `conflicting_only` or every one left.
void list_conflicts(Executor& executor, const RestoreTables& tables, const RestoreRequest& request,
                    bool conflicting_only, RestoreResult& result) {
  const Dialect& d = executor.dialect();
  const auto checks = conflict_checks(tables);
  Builder b(d);
  b.sql("SELECT " + d.text("a." + tables.key) + ", " + d.text("a." + tables.email));
  for (const auto& check : checks) {
    append_flag_and_values(
        b, [&] { append_conflict(b, tables, check); }, check.columns);
  }
  b.sql(" FROM " + tables.archive + " a WHERE ");
  append_restore_filter(b, request);
  if (conflicting_only) {
    b.sql(" AND (");
    for (std::size_t c = 0; c < checks.size(); ++c) {
      if (c != 0) b.sql(" OR ");
      append_conflict(b, tables, checks[c]);
    }
    b.sql(")");
  }
  b.sql(" ORDER BY a." + tables.key + " LIMIT ").value(std::int64_t{kMaxListedConflicts});
  const Rows rows = executor.run(b.build());
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const PendingRow row{rows.text(r, 0), rows.text(r, 1)};
    std::size_t column = 2;
    bool named = false;
    for (const auto& check : checks) {
      const bool conflicts = rows.integer(r, column) != 0;
      ++column;
      std::vector<std::string> values;
      for (std::size_t c = 0; c < check.columns.size(); ++c, ++column) {
        values.push_back(rows.text(r, column));
      }
      if (!conflicts) continue;
      named = true;
      if (result.conflicts.size() < static_cast<std::size_t>(kMaxListedConflicts)) {
        result.conflicts.push_back({row, check.reason, check.constraint, check.columns, values});
      }
    }
    if (!named && result.conflicts.size() < static_cast<std::size_t>(kMaxListedConflicts)) {
      result.conflicts.push_back({row, kUnnamedRestoreConflict, "", {}, {}});
    }
  }
}

// `x`.columns = `a`.columns, NULLs equal, compared as text (json has no equality).
void append_same_values(Builder& b, const std::vector<std::string>& x_columns,
                        const std::vector<std::string>& a_columns) {
  const Dialect& d = b.dialect();
  for (std::size_t c = 0; c < x_columns.size(); ++c) {
    const std::string x = d.text("x." + d.quote(x_columns[c]));
    const std::string a = d.text("a." + d.quote(a_columns[c]));
    b.sql((c == 0 ? "(" : " AND (") + x + " = " + a + " OR (" + x + " IS NULL AND " + a +
          " IS NULL))");
  }
}

// The parent row is in its table, and not still archived by the row's cycle (a parent the
// restore skipped: a row with its key there now is another one).
void append_parent_exists(Builder& b, const CascadedTable& table) {
  const Dialect& d = b.dialect();
  const auto same_parent = [&](const std::string& alias) {
    for (std::size_t c = 0; c < table.fk_columns.size(); ++c) {
      b.sql((c == 0 ? "" : " AND ") + alias + "." + d.quote(table.parent_columns[c]) + " = a." +
            d.quote(table.fk_columns[c]));
    }
  };
  b.sql("(EXISTS (SELECT 1 FROM " + table.parent + " x WHERE ");
  same_parent("x");
  b.sql(") AND NOT EXISTS (SELECT 1 FROM " + table.parent_archive +
        " y WHERE y.cycle_id = a.cycle_id AND ");
  same_parent("y");
  b.sql("))");
}

void append_unique_taken(Builder& b, const CascadedTable& table, const UniqueIndex& index) {
  b.sql("EXISTS (SELECT 1 FROM " + table.table + " x WHERE ");
  const Dialect& d = b.dialect();
  for (std::size_t c = 0; c < index.columns.size(); ++c) {
    const std::string column = d.quote(index.columns[c]);
    b.sql((c == 0 ? "" : " AND ") + std::string("x.") + column + " = a." + column);
  }
  b.sql(")");
}

// The row's label in a report: the values of its first unique index (else of every column).
std::string label_expression(const Dialect& d, const CascadedTable& table) {
  const auto& columns =
      table.unique_indexes.empty() ? table.columns : table.unique_indexes.front().columns;
  std::string expr;
  for (const auto& column : columns) {
    expr += (expr.empty() ? "" : " || ',' || ") + std::string("coalesce(") +
            d.text("a." + d.quote(column)) + ", 'NULL')";
  }
  return expr;
}

// Puts the selected rows of one cascaded table back (or counts them, `dry_run`).
DependentRestore restore_cascaded(Executor& executor, const CascadedTable& table,
                                  const RestoreRequest& request, bool dry_run) {
  const Dialect& d = executor.dialect();
  DependentRestore out;
  out.table = table.name;
  {
    Builder b(d);
    b.sql("SELECT count(*) FROM " + table.archive + " a WHERE ");
    append_restore_filter(b, request);
    out.selected = executor.run(b.build()).integer(0, 0);
  }
  const auto restorable = [&](Builder& b) {
    append_restore_filter(b, request);
    if (!dry_run) {
      b.sql(" AND ");
      append_parent_exists(b, table);
    }
    for (const auto& index : table.unique_indexes) {
      b.sql(" AND NOT ");
      append_unique_taken(b, table, index);
    }
  };
  std::string columns;
  for (const auto& column : table.columns)
    columns += (columns.empty() ? "" : ", ") + d.quote(column);
  if (dry_run) {
    Builder b(d);
    b.sql("SELECT count(*) FROM " + table.archive + " a WHERE ");
    restorable(b);
    out.restored = executor.run(b.build()).integer(0, 0);
  } else {
    Builder insert(d);
    insert.sql("INSERT INTO " + table.table + " (" + columns + ") SELECT " + columns + " FROM " +
               table.archive + " a WHERE ");
    restorable(insert);
    insert.sql(" ON CONFLICT DO NOTHING");
    out.restored = executor.run(insert.build()).affected;
    // The archive rows now in the table, value for value, leave the archive.
    Builder remove(d);
    remove.sql("DELETE FROM " + table.archive + " AS a WHERE ");
    append_restore_filter(remove, request);
    remove.sql(" AND EXISTS (SELECT 1 FROM " + table.table + " x WHERE ");
    append_same_values(remove, table.columns, table.columns);
    remove.sql(")");
    executor.run(remove.build());
  }
  out.skipped = out.selected - out.restored;
  if (out.skipped == 0) return out;
  // Why the rest stays: a parent that is not there, or a unique index whose values are taken.
  Builder b(d);
  b.sql("SELECT " + label_expression(d, table) + ", CASE WHEN ");
  append_parent_exists(b, table);
  b.sql(" THEN 0 ELSE 1 END");
  for (const auto& index : table.unique_indexes) {
    append_flag_and_values(
        b, [&] { append_unique_taken(b, table, index); }, index.columns);
  }
  b.sql(" FROM " + table.archive + " a WHERE ");
  append_restore_filter(b, request);
  b.sql(" ORDER BY 1 LIMIT ").value(std::int64_t{kMaxListedConflicts});
  const Rows rows = executor.run(b.build());
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const PendingRow row{rows.text(r, 0), ""};
    if (!dry_run && rows.integer(r, 1) != 0) {
      out.conflicts.push_back({row, kParentMissing, "", table.fk_columns, {}});
    }
    std::size_t column = 2;
    for (const auto& index : table.unique_indexes) {
      const bool taken = rows.integer(r, column) != 0;
      ++column;
      std::vector<std::string> values;
      for (std::size_t c = 0; c < index.columns.size(); ++c, ++column) {
        values.push_back(rows.text(r, column));
      }
      if (!taken) continue;
      std::string names;
      for (const auto& name : index.columns) names += (names.empty() ? "" : ", ") + name;
      out.conflicts.push_back(
          {row, names + (index.columns.size() == 1 ? " exists" : " exist") + " in " + table.name,
           index.name, index.columns, values});
    }
  }
  return out;
}

}  // namespace

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
                               const std::function<std::int64_t()>& insert,
                               const std::vector<CascadedTable>& cascaded) {
  const Dialect& d = executor.dialect();
  RestoreResult result;
  auto tx = executor.begin(dry_run);
  {
    Builder b(d);
    b.sql("SELECT count(*) FROM " + tables.archive + " a WHERE ");
    append_restore_filter(b, request);
    result.selected = executor.run(b.build()).integer(0, 0);
  }
  if (dry_run) {
    list_conflicts(executor, tables, request, true, result);
    Builder b(d);
    b.sql("SELECT count(DISTINCT a." + tables.key + ") FROM " + tables.archive + " a WHERE ");
    append_restore_filter(b, request);
    for (const auto& check : conflict_checks(tables)) {
      b.sql(" AND NOT ");
      append_conflict(b, tables, check);
    }
    result.restored = executor.run(b.build()).integer(0, 0);
  } else {
    result.restored = insert();
    // What is left of the selection was skipped: say why, against the table as restored.
    if (result.restored < result.selected) list_conflicts(executor, tables, request, false, result);
  }
  for (const auto& table : cascaded) {
    result.dependents.push_back(restore_cascaded(executor, table, request, dry_run));
  }
  tx->commit();
  result.skipped = result.selected - result.restored;
  return result;
}

}  // namespace batch_cleanup::store::sql
