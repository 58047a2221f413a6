#include "store/sqlite/sqlite_archive.h"

#include <algorithm>
#include <stdexcept>

#include "store/sql/restore_sql.h"
#include "store/sql/table_sql.h"
#include "store/sqlite/sqlite_dialect.h"

namespace batch_cleanup::store::sqlite {
namespace {

// A declared column type copied into the archive's DDL: kept only when it is plain words,
// digits, spaces, parentheses and commas (as in VARCHAR(255)); otherwise no type.
std::string safe_type(const std::string& type) {
  const bool plain = std::all_of(type.begin(), type.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ' ' ||
           c == '(' || c == ')' || c == ',' || c == '_';
  });
  return plain ? type : std::string();
}

// The tables whose rows a cascade deletes, each once, parents before their children.
std::vector<const DependentTable*> cascaded_tables(const PreflightFacts& facts) {
  std::vector<const DependentTable*> out;
  for (const auto& dependent : facts.dependents) {
    if (dependent.action != OnDelete::kCascade) continue;
    const bool seen = std::any_of(out.begin(), out.end(), [&](const DependentTable* other) {
      return equal_nocase(other->schema, dependent.schema) &&
             equal_nocase(other->name, dependent.name);
    });
    if (!seen) out.push_back(&dependent);
  }
  return out;
}

std::string quoted_table(const std::string& schema, const std::string& name) {
  return sqlite_dialect().quote(schema) + "." + sqlite_dialect().quote(name);
}

}  // namespace

std::string SqliteArchiveTable::dependent_archive(const DependentTable& dependent) const {
  return bare_name() + "__" + dependent.name;
}

std::vector<std::pair<std::string, std::string>> SqliteArchiveTable::dependent_columns(
    const DependentTable& dependent) {
  SqliteStatement columns(connection_,
                          "SELECT name, type, hidden FROM pragma_table_xinfo(?1, ?2) ORDER BY cid");
  columns.bind(1, dependent.name).bind(2, dependent.schema);
  std::vector<std::pair<std::string, std::string>> out;
  while (columns.step()) {
    if (columns.integer(2) != 0) continue;  // generated: computed again on insert
    out.emplace_back(columns.text(0), columns.text(1));
  }
  return out;
}

void SqliteArchiveTable::create_dependent_archives() {
  for (const auto* dependent : cascaded_tables(catalog_.facts)) {
    std::string columns;
    for (const auto& [name, type] : dependent_columns(*dependent)) {
      columns += sqlite_dialect().quote(name) + " " + safe_type(type) + ", ";
    }
    const std::string archive = dependent_archive(*dependent);
    connection_.exec("CREATE TABLE IF NOT EXISTS " +
                     quoted_table(catalog_.pending.schema, archive) + " (" + columns +
                     "archived_at TEXT NOT NULL, cycle_id TEXT NOT NULL)");
    connection_.exec(
        "CREATE INDEX IF NOT EXISTS " +
        quoted_table(catalog_.pending.schema, archive.substr(0, 40) + "_cycle_id_idx") + " ON " +
        sqlite_dialect().quote(archive) + " (cycle_id)");
  }
}

void SqliteArchiveTable::create_dependent_triggers() {
  // A cascade runs the deleted child rows' DELETE triggers: each archives its rows, in the
  // parent's transaction (the pending table's single writer holds the write lock).
  int n = 0;
  for (const auto* dependent : cascaded_tables(catalog_.facts)) {
    std::string columns;
    std::string values;
    for (const auto& column : dependent_columns(*dependent)) {
      columns += sqlite_dialect().quote(column.first) + ", ";
      values += "OLD." + sqlite_dialect().quote(column.first) + ", ";
    }
    const std::string trigger = "bc_archive_dependent_" + std::to_string(n++);
    connection_.exec("DROP TRIGGER IF EXISTS temp." + trigger);
    connection_.exec("CREATE TEMP TRIGGER " + trigger + " AFTER DELETE ON " +
                     quoted_table(dependent->schema, dependent->name) + " BEGIN INSERT INTO " +
                     sqlite_dialect().quote(dependent_archive(*dependent)) + " (" + columns +
                     "archived_at, cycle_id) SELECT " + values +
                     "strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), cycle_id FROM "
                     "temp.bc_archive_context; END");
  }
}

std::vector<sql::CascadedTable> SqliteArchiveTable::restorable_dependents() {
  std::vector<sql::CascadedTable> out;
  for (const auto* dependent : cascaded_tables(catalog_.facts)) {
    const std::string archive = dependent_archive(*dependent);
    SqliteStatement find(connection_, "SELECT 1 FROM " +
                                          sqlite_dialect().quote(catalog_.pending.schema) +
                                          ".sqlite_schema WHERE type = 'table' AND name = ?1");
    find.bind(1, archive);
    if (!find.step()) continue;
    sql::CascadedTable table;
    table.name = dependent->name;
    table.table = quoted_table(dependent->schema, dependent->name);
    table.archive = quoted_table(catalog_.pending.schema, archive);
    for (const auto& column : dependent_columns(*dependent)) table.columns.push_back(column.first);
    table.fk_columns = dependent->columns;
    table.parent_columns = dependent->parent_columns;
    if (dependent->via < 0) {
      table.parent = catalog_.pending.quoted();
      table.parent_archive = quoted();
    } else {
      const auto& parent = catalog_.facts.dependents[static_cast<std::size_t>(dependent->via)];
      table.parent = quoted_table(parent.schema, parent.name);
      table.parent_archive = quoted_table(catalog_.pending.schema, dependent_archive(parent));
    }
    table.unique_indexes = unique_indexes_of(dependent->schema, dependent->name);
    out.push_back(std::move(table));
  }
  return out;
}

std::string SqliteArchiveTable::bare_name() const {
  return config::parse_table_name(config_.archive_table, "archive table").name;
}

std::string SqliteArchiveTable::quoted() const {
  return sqlite_dialect().quote(catalog_.pending.schema) + "." +
         sqlite_dialect().quote(bare_name());
}

bool SqliteArchiveTable::exists() {
  SqliteStatement find(connection_, "SELECT 1 FROM " +
                                        sqlite_dialect().quote(catalog_.pending.schema) +
                                        ".sqlite_schema WHERE type = 'table' AND name = ?1 "
                                        "COLLATE NOCASE");
  find.bind(1, bare_name());
  return find.step();
}

ArchiveFacts SqliteArchiveTable::inspect_archive() {
  ArchiveFacts facts;
  facts.name = config_.archive_table;
  const auto name = config::parse_table_name(config_.archive_table, "archive table");
  if (!name.schema.empty() && !equal_nocase(name.schema, catalog_.pending.schema)) {
    facts.required_database = catalog_.pending.schema;
    return facts;
  }
  facts.exists = exists();
  if (!facts.exists) return facts;
  const std::string bare = bare_name();
  facts.is_cleaned_table =
      equal_nocase(bare, catalog_.pending.name) || equal_nocase(bare, catalog_.users.name);
  if (facts.is_cleaned_table) return facts;
  SqliteStatement columns(connection_, "SELECT name FROM pragma_table_xinfo(?1, ?2)");
  columns.bind(1, bare).bind(2, catalog_.pending.schema);
  std::vector<std::string> present;
  while (columns.step()) present.push_back(columns.text(0));
  std::vector<std::string> needed = {"archived_at", "cycle_id", "reason"};
  for (const auto& column : catalog_.pending.columns) needed.push_back(column.name);
  for (const auto& column : needed) {
    const bool found = std::any_of(present.begin(), present.end(),
                                   [&](const std::string& n) { return equal_nocase(n, column); });
    if (!found) facts.missing_columns.push_back(column);
  }
  return facts;
}

void SqliteArchiveTable::create() {
  if (exists()) return;
  std::string columns;
  for (const auto& column : catalog_.pending.columns) {
    columns += sqlite_dialect().quote(column.name) + " " + safe_type(column.type) + ", ";
  }
  const std::string bare = bare_name();
  connection_.exec("CREATE TABLE IF NOT EXISTS " + quoted() + " (" + columns +
                   "archived_at TEXT NOT NULL, cycle_id TEXT NOT NULL, reason TEXT NOT NULL)");
  for (const char* column : {"archived_at", "cycle_id"}) {
    connection_.exec("CREATE INDEX IF NOT EXISTS " +
                     sqlite_dialect().quote(catalog_.pending.schema) + "." +
                     sqlite_dialect().quote(bare + "_" + column + "_idx") + " ON " +
                     sqlite_dialect().quote(bare) + " (" + column + ")");
  }
}

void SqliteArchiveTable::begin_cycle(const std::string& cycle_id) {
  if (!trigger_ready_) {
    // Connection-local (TEMP) objects: the database file's schema gains only the archive table.
    std::string columns;
    std::string values;
    for (const auto& column : catalog_.pending.columns) {
      columns += sqlite_dialect().quote(column.name) + ", ";
      values += "OLD." + sqlite_dialect().quote(column.name) + ", ";
    }
    sql::Builder reason(executor_.dialect());
    sql::append_reason(reason, predicate_, "OLD", sql::Probe::kAny);
    if (reason.parameter_count() != 0) {
      throw std::logic_error("the archive trigger's reason expression binds a parameter");
    }
    connection_.exec("CREATE TEMP TABLE IF NOT EXISTS bc_archive_context (cycle_id TEXT)");
    connection_.exec("DROP TRIGGER IF EXISTS temp.bc_archive_on_delete");
    connection_.exec("CREATE TEMP TRIGGER bc_archive_on_delete AFTER DELETE ON " +
                     catalog_.pending.quoted() + " BEGIN INSERT INTO " +
                     sqlite_dialect().quote(bare_name()) + " (" + columns +
                     "archived_at, cycle_id, reason) SELECT " + values +
                     "strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), cycle_id, " + reason.text() +
                     " FROM temp.bc_archive_context; END");
    create_dependent_archives();
    create_dependent_triggers();
    trigger_ready_ = true;
  }
  connection_.exec("DELETE FROM temp.bc_archive_context");
  SqliteStatement set(connection_, "INSERT INTO temp.bc_archive_context (cycle_id) VALUES (?1)");
  set.bind(1, cycle_id);
  set.step();
}

std::int64_t SqliteArchiveTable::purge(std::chrono::milliseconds older_than,
                                       std::int64_t batch_rows) {
  if (!exists()) return 0;
  return sql::purge_archived(executor_, quoted(), older_than, batch_rows);
}

std::vector<UniqueIndex> SqliteArchiveTable::unique_indexes() {
  return unique_indexes_of(catalog_.pending.schema, catalog_.pending.name);
}

std::vector<UniqueIndex> SqliteArchiveTable::unique_indexes_of(const std::string& schema,
                                                               const std::string& table) {
  // PRAGMA index_list and index_info: the primary key's index first; an index on an expression
  // (a column without a name) or a partial one is left out.
  SqliteStatement list(connection_,
                       "SELECT il.name, ii.name FROM pragma_index_list(?1, ?2) il "
                       "JOIN pragma_index_info(il.name, ?2) ii "
                       "WHERE il.\"unique\" = 1 AND il.partial = 0 "
                       "ORDER BY il.origin = 'pk' DESC, il.name, ii.seqno");
  list.bind(1, table).bind(2, schema);
  std::vector<UniqueIndex> indexes;
  std::vector<std::string> with_expressions;
  while (list.step()) {
    const std::string index = list.text(0);
    if (indexes.empty() || indexes.back().name != index) indexes.push_back({index, {}});
    if (list.is_null(1)) with_expressions.push_back(index);
    indexes.back().columns.push_back(list.text(1));
  }
  indexes.erase(std::remove_if(indexes.begin(), indexes.end(),
                               [&](const UniqueIndex& index) {
                                 return std::find(with_expressions.begin(), with_expressions.end(),
                                                  index.name) != with_expressions.end();
                               }),
                indexes.end());
  return indexes;
}

RestoreResult SqliteArchiveTable::restore(const RestoreRequest& request, bool dry_run) {
  const sql::RestoreTables tables{quoted(),
                                  catalog_.pending.quoted(),
                                  sqlite_dialect().quote(config_.pending_key),
                                  sqlite_dialect().quote(config_.email_column),
                                  config_.pending_key,
                                  config_.email_column,
                                  unique_indexes(),
                                  true};
  // The newest archived copy of each key first; the pending table's write lock is held, so the
  // conflict checks and the inserts see the same table.
  const auto put_rows_back = [&]() -> std::int64_t {
    std::vector<std::int64_t> rowids;
    {
      sql::Builder b(executor_.dialect());
      b.sql("SELECT a.rowid FROM " + tables.archive + " a WHERE ");
      sql::append_restore_filter(b, request);
      b.sql(" ORDER BY a." + tables.key + ", a.archived_at DESC");
      const auto rows = executor_.run(b.build());
      for (std::size_t r = 0; r < rows.size(); ++r) rowids.push_back(rows.integer(r, 0));
    }
    std::string columns;
    for (const auto& column : catalog_.pending.columns) {
      if (column.hidden != 0) continue;  // generated: computed again on insert
      columns += (columns.empty() ? "" : ", ") + sqlite_dialect().quote(column.name);
    }
    sql::Builder put_back(executor_.dialect());
    put_back
        .sql("INSERT INTO " + tables.pending + " (" + columns + ") SELECT " + columns + " FROM " +
             tables.archive + " a WHERE a.rowid = ")
        .slot("rowid")
        .sql(" AND NOT ");
    sql::append_key_conflict(put_back, tables, "a");
    put_back.sql(" AND NOT ");
    sql::append_email_conflict(put_back, tables, "a");
    put_back.sql(" ON CONFLICT DO NOTHING");
    const sql::Statement insert_statement = put_back.build();
    SqliteStatement insert(connection_, insert_statement, {{"rowid", std::int64_t{0}}});
    SqliteStatement remove(connection_, "DELETE FROM " + tables.archive + " WHERE rowid = ?1");
    std::int64_t restored = 0;
    for (const auto rowid : rowids) {
      insert.reset();
      insert.bind(insert_statement.slot_number("rowid"), rowid);
      insert.step();
      if (sqlite3_changes64(connection_.handle()) == 0) continue;
      remove.reset();
      remove.bind(1, rowid);
      remove.step();
      ++restored;
    }
    return restored;
  };
  return sql::restore_archived(executor_, tables, request, dry_run, put_rows_back,
                               restorable_dependents());
}

}  // namespace batch_cleanup::store::sqlite
