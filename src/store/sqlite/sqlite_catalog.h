// SQLite preflight: the facts about the configured tables (pragma_table_list, table_xinfo,
// index lists, the query planner's view of the users indexes), and what the store's statements
// need from the schema.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "batch_cleanup/config.h"
#include "config/identifier.h"
#include "store/facts.h"
#include "store/sqlite/sqlite_capabilities.h"
#include "store/sqlite/sqlite_connection.h"
#include "store/table_names.h"

namespace batch_cleanup::store::sqlite {

struct ColumnInfo {
  std::string name;
  std::string type;
  int pk = 0;      // 1-based position in the primary key, 0 when not part of it
  int hidden = 0;  // pragma_table_xinfo: 2 or 3 for generated columns
};

struct Table {
  std::string schema;  // the attached database holding it: main, temp, ...
  std::string name;    // as stored in the schema
  std::string type;    // table, view, virtual, shadow
  bool without_rowid = false;
  std::vector<ColumnInfo> columns;

  // "schema"."name", by the SQLite dialect.
  std::string quoted() const;
  const ColumnInfo* find(std::string_view column) const;
  int primary_key_columns() const;
  // An INTEGER PRIMARY KEY of a rowid table is the rowid itself.
  bool is_rowid_alias(const ColumnInfo& column) const;
};

struct SqliteCatalog {
  PreflightFacts facts;
  Table pending;
  Table users;
  // The rowid under a name no column shadows (or the INTEGER PRIMARY KEY key); "" when none.
  std::string rowid;
};

// Looks everything up; stops early (with facts saying why) when a table is missing. Throws
// DatabaseError.
SqliteCatalog inspect_catalog(SqliteConnection& connection, const TableNames& names,
                              const CleanupConfig& config);

// A table (or view) by name; unqualified names are looked up the way SQLite does (temp, main,
// then attached databases in order). An empty name: no such table.
Table resolve(SqliteConnection& connection, const config::QualifiedName& name);

}  // namespace batch_cleanup::store::sqlite
