#include "store/mysql/mysql_archive.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "batch_cleanup/errors.h"
#include "store/mysql/mysql_dialect.h"
#include "store/sql/restore_sql.h"
#include "store/sql/table_sql.h"

namespace batch_cleanup::store::mysql {
namespace {

// Column names compare without case on MySQL/MariaDB.
bool same_name(const std::string& a, const std::string& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

}  // namespace

config::QualifiedName MysqlArchiveTable::name() const {
  return config::parse_table_name(config_.archive_table, "archive table");
}

std::string MysqlArchiveTable::quoted_name(const CleanupConfig& config) {
  return mysql_dialect().quote(config::parse_table_name(config.archive_table, "archive table"));
}

std::string MysqlArchiveTable::schema() {
  const auto archive = name();
  return archive.schema.empty() ? session_.exec("SELECT database()").text(0, 0) : archive.schema;
}

bool MysqlArchiveTable::exists() {
  return !session_
              .exec(
                  "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND "
                  "table_name = ?",
                  {schema(), name().name})
              .empty();
}

ArchiveFacts MysqlArchiveTable::inspect_archive() {
  ArchiveFacts facts;
  const auto archive = name();
  facts.name = archive.display();
  const std::string in = schema();
  facts.exists = exists();
  if (!facts.exists) return facts;
  const bool nocase = !catalog_.facts.names_case_sensitive;
  const auto same_table = [&](const std::string& a, const std::string& b) {
    return nocase ? same_name(a, b) : a == b;
  };
  facts.is_cleaned_table =
      (same_table(in, catalog_.schema) && same_table(archive.name, names_.pending.name)) ||
      (same_table(in, catalog_.users_schema) && same_table(archive.name, names_.users.name));
  if (facts.is_cleaned_table) return facts;
  const auto present = session_.exec(
      "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND "
      "table_name = ?",
      {in, archive.name});
  std::vector<std::string> needed = {"archived_at", "cycle_id", "reason"};
  for (const auto& column : catalog_.pending_columns) needed.push_back(column.name);
  for (const auto& column : needed) {
    bool found = false;
    for (std::size_t r = 0; r < present.size() && !found; ++r) {
      found = same_name(present.text(r, 0), column);
    }
    if (!found) facts.missing_columns.push_back(column);
  }
  return facts;
}

void MysqlArchiveTable::create() {
  // The pending table's column types, each nullable, without its keys or defaults; generated
  // columns become plain ones (their values are archived as they were).
  std::string columns;
  for (const auto& column : catalog_.pending_columns) {
    columns += mysql_dialect().quote(column.name) + " " + column.column_type;
    if (!column.charset.empty()) {
      columns += " CHARACTER SET " + column.charset + " COLLATE " + column.collation;
    }
    columns += " NULL, ";
  }
  const auto archive = name();
  const std::string prefix = archive.name.substr(0, 40);
  // The key's index serves restore (a key not indexable without a prefix goes without).
  std::string key_index;
  for (const auto& column : catalog_.pending_columns) {
    const bool long_type = column.data_type.find("text") != std::string::npos ||
                           column.data_type.find("blob") != std::string::npos;
    if (same_name(column.name, config_.pending_key) && !long_type) {
      key_index = ", KEY " + mysql_dialect().quote(prefix + "_key_idx") + " (" + names_.key + ")";
    }
  }
  session_.exec("CREATE TABLE IF NOT EXISTS " + mysql_dialect().quote(archive) + " (" + columns +
                "archived_at DATETIME(3) NOT NULL, cycle_id VARCHAR(191) NOT NULL, reason "
                "VARCHAR(255) NOT NULL, KEY " +
                mysql_dialect().quote(prefix + "_archived_at_idx") + " (archived_at), KEY " +
                mysql_dialect().quote(prefix + "_cycle_id_idx") + " (cycle_id)" + key_index +
                ") ENGINE=InnoDB");
}

void MysqlArchiveTable::begin_cycle(const std::string& cycle_id) { cycle_ = cycle_id; }

std::int64_t MysqlArchiveTable::purge(std::chrono::milliseconds older_than,
                                      std::int64_t batch_rows) {
  if (!exists()) return 0;
  return sql::purge_archived(executor_, mysql_dialect().quote(name()), older_than, batch_rows);
}

std::vector<UniqueIndex> MysqlArchiveTable::unique_indexes() {
  // The primary key first; an index on a prefix of a column (or, on MySQL, on an expression)
  // is left out: restore cannot compare what it indexes.
  const auto rows = session_.exec(
      "SELECT index_name, coalesce(column_name, ''), sub_part IS NOT NULL OR column_name IS "
      "NULL FROM information_schema.statistics WHERE table_schema = ? AND table_name = ? AND "
      "non_unique = 0 ORDER BY index_name = 'PRIMARY' DESC, index_name, seq_in_index",
      {catalog_.schema, names_.pending.name});
  std::vector<UniqueIndex> indexes;
  std::vector<std::string> partial;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const std::string index = rows.text(r, 0);
    if (indexes.empty() || indexes.back().name != index) indexes.push_back({index, {}});
    indexes.back().columns.push_back(rows.text(r, 1));
    if (rows.integer(r, 2) != 0) partial.push_back(index);
  }
  indexes.erase(std::remove_if(indexes.begin(), indexes.end(),
                               [&](const UniqueIndex& index) {
                                 return std::find(partial.begin(), partial.end(), index.name) !=
                                        partial.end();
                               }),
                indexes.end());
  return indexes;
}

void MysqlArchiveTable::append_rows(sql::Builder& b, const sql::RestoreTables& tables,
                                    const std::string& alias, std::span<const ArchiveRow> rows) {
  // The key list first, for the index on the key column.
  b.sql(alias + tables.key + " IN (");
  for (std::size_t r = 0; r < rows.size(); ++r) b.sql(r == 0 ? "" : ", ").value(rows[r][0]);
  b.sql(") AND (" + alias + tables.key + ", " + alias + "cycle_id, " + alias + "archived_at) IN (");
  for (std::size_t r = 0; r < rows.size(); ++r) {
    b.sql(r == 0 ? "(" : ", (").value(rows[r][0]).sql(", ").value(rows[r][1]).sql(", ");
    b.value(rows[r][2]).sql(")");
  }
  b.sql(")");
}

std::string MysqlArchiveTable::insertable_columns() const {
  std::string columns;
  for (const auto& column : catalog_.pending_columns) {
    if (column.generated) continue;  // computed again on insert
    columns += (columns.empty() ? "" : ", ") + mysql_dialect().quote(column.name);
  }
  return columns;
}

std::int64_t MysqlArchiveTable::put_back_chunk(const sql::RestoreTables& tables,
                                               std::span<const ArchiveRow> chunk) {
  const std::string columns = insertable_columns();
  std::vector<ArchiveRow> free;
  {
    sql::Builder b(executor_.dialect());
    b.sql("SELECT CAST(a." + tables.key + " AS CHAR), a.cycle_id, CAST(a.archived_at AS CHAR) " +
          "FROM " + tables.archive + " a WHERE ");
    append_rows(b, tables, "a.", chunk);
    b.sql(" AND NOT ");
    sql::append_key_conflict(b, tables, "a");
    b.sql(" AND NOT ");
    sql::append_email_conflict(b, tables, "a");
    const auto rows = executor_.run(b.build());
    for (std::size_t r = 0; r < rows.size(); ++r) {
      free.push_back(ArchiveRow{rows.text(r, 0), rows.text(r, 1), rows.text(r, 2)});
    }
  }
  if (free.empty()) return 0;
  sql::Builder insert(executor_.dialect());
  insert.sql("INSERT INTO " + tables.pending + " (" + columns + ") SELECT " + columns + " FROM " +
             tables.archive + " a WHERE ");
  append_rows(insert, tables, "a.", free);
  std::int64_t inserted = 0;
  try {
    inserted = executor_.run(insert.build()).affected;
  } catch (const DatabaseError& e) {
    if (e.cause() != ErrorCause::kRowRefused) throw;
    return put_back_one_by_one(tables, free);
  }
  if (inserted != static_cast<std::int64_t>(free.size())) {
    // Two archive rows with the same key, cycle and time: the row at a time way tells them apart.
    throw DatabaseError(ErrorCause::kOther, "",
                        "restore inserted " + std::to_string(inserted) + " rows for " +
                            std::to_string(free.size()) + " archive rows: rolled back");
  }
  sql::Builder remove(executor_.dialect());
  remove.sql("DELETE FROM " + tables.archive + " WHERE ");
  append_rows(remove, tables, "", free);
  executor_.run(remove.build());
  return inserted;
}

std::int64_t MysqlArchiveTable::put_back_one_by_one(const sql::RestoreTables& tables,
                                                    std::span<const ArchiveRow> rows) {
  const std::string columns = insertable_columns();
  const auto this_row = [&](sql::Builder& b, const std::string& alias) {
    b.sql(alias + tables.key + " = ")
        .slot("key")
        .sql(" AND " + alias + "cycle_id = ")
        .slot("cycle")
        .sql(" AND " + alias + "archived_at = ")
        .slot("at");
  };
  sql::Builder put_back(executor_.dialect());
  put_back.sql("INSERT INTO " + tables.pending + " (" + columns + ") SELECT " + columns + " FROM " +
               tables.archive + " a WHERE ");
  this_row(put_back, "a.");
  put_back.sql(" AND NOT ");
  sql::append_key_conflict(put_back, tables, "a");
  put_back.sql(" AND NOT ");
  sql::append_email_conflict(put_back, tables, "a");
  put_back.sql(" LIMIT 1");
  const sql::Statement insert = put_back.build();
  sql::Builder take_out(executor_.dialect());
  take_out.sql("DELETE FROM " + tables.archive + " WHERE ");
  this_row(take_out, "");
  take_out.sql(" LIMIT 1");
  const sql::Statement remove = take_out.build();
  std::int64_t restored = 0;
  for (const auto& [key, cycle, at] : rows) {
    const sql::Slots slots{{"key", key}, {"cycle", cycle}, {"at", at}};
    try {
      if (executor_.run(insert, slots).affected == 0) continue;
    } catch (const DatabaseError& e) {
      if (e.cause() != ErrorCause::kRowRefused) throw;
      continue;
    }
    executor_.run(remove, slots);
    ++restored;
  }
  return restored;
}

RestoreResult MysqlArchiveTable::restore(const RestoreRequest& request, bool dry_run) {
  const sql::RestoreTables tables{mysql_dialect().quote(name()),
                                  mysql_dialect().quote(names_.pending),
                                  names_.key,
                                  names_.email,
                                  config_.pending_key,
                                  config_.email_column,
                                  unique_indexes(),
                                  true};
  // The newest archived copy of each selected key, put back unless a pending row has its key
  // or email, a chunk at a time: the chunk's rows free of those conflicts are read, inserted
  // by one statement and removed from the archive by the next. An archive row is named by its
  // key, cycle and time (MySQL has no row address). When another unique index refuses a row
  // (ER_DUP_ENTRY; InnoDB rolls back only that statement) the chunk goes one row at a time.
  const auto put_rows_back = [&]() -> std::int64_t {
    std::vector<ArchiveRow> newest;
    {
      sql::Builder b(executor_.dialect());
      b.sql("SELECT CAST(a." + tables.key + " AS CHAR), a.cycle_id, CAST(a.archived_at AS CHAR) " +
            "FROM " + tables.archive + " a WHERE ");
      sql::append_restore_filter(b, request);
      b.sql(" ORDER BY a." + tables.key + ", a.archived_at DESC");
      const auto rows = executor_.run(b.build());
      for (std::size_t r = 0; r < rows.size(); ++r) {
        if (!newest.empty() && newest.back()[0] == rows.text(r, 0)) continue;  // an older copy
        newest.push_back(ArchiveRow{rows.text(r, 0), rows.text(r, 1), rows.text(r, 2)});
      }
    }
    std::int64_t restored = 0;
    constexpr std::size_t kChunk = 100;
    for (std::size_t at = 0; at < newest.size(); at += kChunk) {
      const std::span<const ArchiveRow> chunk(newest.data() + at,
                                              std::min(kChunk, newest.size() - at));
      restored += put_back_chunk(tables, chunk);
    }
    return restored;
  };
  return sql::restore_archived(executor_, tables, request, dry_run, put_rows_back);
}

void refuse_cascades_with_archive(MysqlSession& session, const MysqlCatalog& catalog,
                                  const TableNames& names, const std::string& what) {
  const auto rows = session.exec(
      "SELECT table_name, constraint_name FROM information_schema.referential_constraints "
      "WHERE unique_constraint_schema = ? AND referenced_table_name = ? AND delete_rule = "
      "'CASCADE' ORDER BY 1, 2 LIMIT 1",
      {catalog.schema, names.pending.name});
  if (rows.empty()) return;
  throw ConfigError(what + " with a foreign key that cascades deletes from the pending table (" +
                    rows.text(0, 1) + " of table " + rows.text(0, 0) +
                    ") is not supported on MySQL/MariaDB yet: the rows the cascade deletes "
                    "would not be archived. HINT: run without " +
                    what + ", or change the foreign key to ON DELETE RESTRICT");
}

}  // namespace batch_cleanup::store::mysql
