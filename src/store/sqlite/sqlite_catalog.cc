#include "store/sqlite/sqlite_catalog.h"

#include <algorithm>

#include "store/reasons.h"
#include "store/sqlite/sqlite_dependents.h"
#include "store/sqlite/sqlite_dialect.h"
#include "store/sqlite/sqlite_relation_reads.h"

namespace batch_cleanup::store::sqlite {
namespace {

RelationFacts relation_facts(const Table& table, const config::QualifiedName& name) {
  RelationFacts facts;
  facts.name = name.display();
  facts.exists = !table.name.empty();
  if (!facts.exists) return facts;
  facts.kind = "type " + table.type;
  facts.is_table = table.type == "table";
  // SQLite has no privileges; a read-only file is reported on its own.
  facts.can_select = facts.can_delete = facts.can_insert = facts.can_update = true;
  return facts;
}

ColumnFacts column_facts(const Table& table, const std::string& name) {
  ColumnFacts facts;
  facts.checked = true;
  if (const ColumnInfo* found = table.find(name)) {
    facts.exists = true;
    facts.type = found->type;
  }
  return facts;
}

// One relation under two names: the same schema, or one database file attached twice.
bool same_relation(SqliteConnection& connection, const Table& a, const Table& b) {
  if (!equal_nocase(a.name, b.name)) return false;
  if (equal_nocase(a.schema, b.schema)) return true;
  sqlite3* db = connection.handle();
  const char* file_a = sqlite3_db_filename(db, a.schema.c_str());
  const char* file_b = sqlite3_db_filename(db, b.schema.c_str());
  return file_a != nullptr && file_b != nullptr && file_a[0] != '\0' &&
         std::string_view(file_a) == std::string_view(file_b);
}

// Names of the table's indexes without a WHERE clause.
std::vector<std::string> indexes(SqliteConnection& connection, const Table& table,
                                 bool unique_only) {
  SqliteStatement list(connection,
                       "SELECT name FROM pragma_index_list(?1, ?2) WHERE partial = 0 AND (?3 = 0 "
                       "OR \"unique\" = 1)");
  list.bind(1, table.name).bind(2, table.schema).bind(3, std::int64_t{unique_only ? 1 : 0});
  std::vector<std::string> names;
  while (list.step()) names.push_back(list.text(0));
  return names;
}

// The key names one row: a single-column primary key (the rowid alias, or the primary key of a
// WITHOUT ROWID table), or a single-column UNIQUE index without a WHERE clause.
bool key_is_unique(SqliteConnection& connection, const Table& table, const ColumnInfo& key) {
  if (key.pk == 1 && table.primary_key_columns() == 1) return true;
  for (const auto& index : indexes(connection, table, /*unique_only=*/true)) {
    SqliteStatement info(connection, "SELECT name FROM pragma_index_info(?1, ?2)");
    info.bind(1, index).bind(2, table.schema);
    int key_columns = 0;
    bool is_key = false;
    while (info.step()) {
      ++key_columns;
      is_key = !info.is_null(0) && equal_nocase(info.text(0), key.name);
    }
    if (key_columns == 1 && is_key) return true;
  }
  return false;
}

// Whether the EXISTS probe on users(email) can use an index: a non-partial index whose first
// column is the email column with the column's collation, or the rowid itself.
bool email_is_indexed(SqliteConnection& connection, const Table& users, const ColumnInfo& email) {
  if (users.type != "table" || users.is_rowid_alias(email)) return true;
  const char* declared = nullptr;
  sqlite3_table_column_metadata(connection.handle(), users.schema.c_str(), users.name.c_str(),
                                email.name.c_str(), nullptr, &declared, nullptr, nullptr, nullptr);
  const std::string collation = declared != nullptr ? declared : "BINARY";
  for (const auto& index : indexes(connection, users, /*unique_only=*/false)) {
    SqliteStatement info(connection,
                         "SELECT name, coll FROM pragma_index_xinfo(?1, ?2) WHERE seqno = 0");
    info.bind(1, index).bind(2, users.schema);
    if (info.step() && !info.is_null(0) && equal_nocase(info.text(0), email.name) &&
        equal_nocase(info.text(1), collation)) {
      return true;
    }
  }
  return false;
}

// Whether an index of the users table serves `users_side = ?` (SQLite's query planner).
bool users_index_serves(SqliteConnection& connection, const Table& users,
                        const std::string& users_side) {
  SqliteStatement plan(connection, "EXPLAIN QUERY PLAN SELECT 1 FROM " + users.quoted() +
                                       " u WHERE " + users_side + " = ?1");
  while (plan.step()) {
    const std::string detail = plan.text(3);
    // "SEARCH u USING INDEX ...": a lookup; "SCAN u USING COVERING INDEX" reads it all.
    if (detail.rfind("SEARCH", 0) == 0 && detail.find("INDEX") != std::string::npos) return true;
  }
  return false;
}

// CREATE INDEX advice, with an index name not yet taken in the users table's schema. SQLite
// puts the schema on the index name; the table name stays unqualified.
std::string create_index_statement(SqliteConnection& connection, const Table& users,
                                   const config::QualifiedName& name, const std::string& base,
                                   const std::string& indexed) {
  std::string index = base;
  for (int suffix = 2; suffix < 100; ++suffix) {
    SqliteStatement taken(connection, "SELECT 1 FROM " + sqlite_dialect().quote(users.schema) +
                                          ".sqlite_schema WHERE name = ?1 COLLATE NOCASE");
    taken.bind(1, index);
    if (!taken.step()) break;
    index = base + "_" + std::to_string(suffix);
  }
  return "CREATE INDEX " + (name.schema.empty() ? "" : sqlite_dialect().quote(name.schema) + ".") +
         sqlite_dialect().quote(index) + " ON " + sqlite_dialect().quote(name.name) + " (" +
         indexed + ");";
}

void inspect_policies(SqliteConnection& connection, const TableNames& names,
                      const CleanupConfig& config, SqliteCatalog& catalog) {
  auto& facts = catalog.facts;
  const Table& users = catalog.users;
  if (config.match_email) {
    auto& index = facts.users_email_index;
    index.checked = true;
    if (!rewrites_email(config.normalize_email)) {
      index.present = email_is_indexed(connection, users, *users.find(config.email_column));
      index.advice = create_index_statement(
          connection, users, names.users,
          "idx_" + users.name + "_" + users.find(config.email_column)->name, names.email);
    } else {
      const std::string expression = normalized_email(config.normalize_email, names.email);
      index.served = expression;
      index.present = users_index_serves(
          connection, users, normalized_email(config.normalize_email, "u." + names.email));
      index.advice =
          "CREATE INDEX " +
          (names.users.schema.empty() ? "" : sqlite_dialect().quote(names.users.schema) + ".") +
          sqlite_dialect().quote(
              "idx_" + users.name + "_email_" +
              (config.normalize_email == EmailNormalization::kLower ? "lower" : "lower_trim")) +
          " ON " + sqlite_dialect().quote(names.users.name) + " (" + expression + ");";
    }
  }
  if (config.match_phone) {
    facts.pending_phone = column_facts(catalog.pending, config.phone_column);
    facts.users_phone = column_facts(users, config.phone_column);
    if (facts.pending_phone.exists && facts.users_phone.exists) {
      facts.users_phone_index.checked = true;
      facts.users_phone_index.present = users_index_serves(connection, users, "u." + names.phone);
      facts.users_phone_index.advice =
          "CREATE INDEX " +
          sqlite_dialect().quote("idx_" + users.name + "_" + config.phone_column) + " ON " +
          sqlite_dialect().quote(names.users.name) + " (" + names.phone + ");";
    }
  }
  if (uses_created(config)) {
    facts.created = column_facts(catalog.pending, config.created_column);
    facts.created_kind = TimeKind::kDynamic;
  }
}

}  // namespace

std::string Table::quoted() const {
  return sqlite_dialect().quote(schema) + "." + sqlite_dialect().quote(name);
}

const ColumnInfo* Table::find(std::string_view column) const {
  for (const auto& info : columns) {
    if (equal_nocase(info.name, column)) return &info;
  }
  return nullptr;
}

int Table::primary_key_columns() const {
  return static_cast<int>(
      std::count_if(columns.begin(), columns.end(), [](const ColumnInfo& c) { return c.pk > 0; }));
}

bool Table::is_rowid_alias(const ColumnInfo& column) const {
  return !without_rowid && column.pk == 1 && primary_key_columns() == 1 &&
         equal_nocase(column.type, "INTEGER");
}

Table resolve(SqliteConnection& connection, const config::QualifiedName& name) {
  Table table;
  {
    SqliteStatement find(
        connection,
        "SELECT t.schema, t.name, t.type, t.wr FROM pragma_table_list t "
        "LEFT JOIN pragma_database_list d ON d.name = t.schema "
        "WHERE t.name = ?1 COLLATE NOCASE AND (?2 = '' OR t.schema = ?2 COLLATE NOCASE) "
        "ORDER BY CASE WHEN t.schema = 'temp' THEN -1 ELSE coalesce(d.seq, 1000000) END "
        "LIMIT 1");
    find.bind(1, name.name).bind(2, name.schema);
    if (!find.step()) return table;
    table.schema = find.text(0);
    table.name = find.text(1);
    table.type = find.text(2);
    table.without_rowid = find.integer(3) != 0;
  }
  SqliteStatement columns(connection,
                          "SELECT name, type, pk, hidden FROM pragma_table_xinfo(?1, ?2)");
  columns.bind(1, table.name).bind(2, table.schema);
  while (columns.step()) {
    table.columns.push_back({columns.text(0), columns.text(1), static_cast<int>(columns.integer(2)),
                             static_cast<int>(columns.integer(3))});
  }
  return table;
}

SqliteCatalog inspect_catalog(SqliteConnection& connection, const TableNames& names,
                              const CleanupConfig& config) {
  SqliteCatalog catalog;
  auto& facts = catalog.facts;
  facts.capabilities = sqlite_capabilities();
  facts.server_version_num = sqlite3_libversion_number();
  facts.server_version = sqlite3_libversion();
  facts.names_case_sensitive = false;
  facts.has_roles = false;

  catalog.pending = resolve(connection, names.pending);
  facts.pending = relation_facts(catalog.pending, names.pending);
  if (!facts.pending.exists) return catalog;
  catalog.users = resolve(connection, names.users);
  facts.users = relation_facts(catalog.users, names.users);
  if (!facts.users.exists) return catalog;
  facts.same_relation = same_relation(connection, catalog.pending, catalog.users);
  if (facts.same_relation || !facts.pending.is_table) return catalog;
  inspect_reads(connection, catalog.pending, catalog.users, same_relation, facts);

  const Table& pending = catalog.pending;
  facts.key = column_facts(pending, config.pending_key);
  facts.pending_email = column_facts(pending, config.email_column);
  facts.users_email = column_facts(catalog.users, config.email_column);
  if (!facts.key.exists || !facts.pending_email.exists || !facts.users_email.exists) {
    return catalog;
  }
  inspect_collation(connection, pending, config.email_column, facts.pending_email);
  inspect_collation(connection, catalog.users, config.email_column, facts.users_email);
  if (sqlite3_db_readonly(connection.handle(), pending.schema.c_str()) == 1) {
    facts.read_only_file = connection.path();
    // (UPDATE does not matter: SQLite has no row locks to take.)
    facts.pending.can_delete = facts.pending.can_insert = false;
  }
  const ColumnInfo& key = *pending.find(config.pending_key);
  facts.key_unique = key_is_unique(connection, pending, key);
  inspect_policies(connection, names, config, catalog);
  inspect_dependents(connection, pending, names.pending.display(), facts);

  // The rowid, under a name no column shadows; an INTEGER PRIMARY KEY key is the rowid too.
  if (!pending.without_rowid) {
    for (const char* candidate : {"rowid", "_rowid_", "oid"}) {
      if (pending.find(candidate) == nullptr) {
        catalog.rowid = candidate;
        break;
      }
    }
    if (catalog.rowid.empty() && pending.is_rowid_alias(key)) catalog.rowid = key.name;
  }
  if (catalog.rowid.empty()) {
    facts.physical =
        pending.without_rowid ? PhysicalSupport::kWithoutRowid : PhysicalSupport::kRowidShadowed;
  }
  return catalog;
}

}  // namespace batch_cleanup::store::sqlite
