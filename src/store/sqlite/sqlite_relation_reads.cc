#include "store/sqlite/sqlite_relation_reads.h"

#include <set>
#include <utility>

#include "store/sqlite/sqlite_dialect.h"

namespace batch_cleanup::store::sqlite {
namespace {

using TableRead = std::pair<std::string, std::string>;  // database, table

// The authorizer's SQLITE_READ of a prepared statement names each table column it reads,
// through views (the view's name comes as the fourth argument); a table read for no column
// (count(*), EXISTS) comes with an empty column and no database. SQLite's own schema tables are
// read while the schema loads.
int collect_reads(void* out, int action, const char* table, const char* /*column*/,
                  const char* database, const char* /*view*/) {
  if (action == SQLITE_READ && table != nullptr &&
      std::string_view(table).rfind("sqlite_", 0) != 0) {
    static_cast<std::set<TableRead>*>(out)->insert({database != nullptr ? database : "", table});
  }
  return SQLITE_OK;
}

// The tables `SELECT * FROM table` reads, as SQLite prepares it.
std::set<TableRead> tables_read(SqliteConnection& connection, const Table& table) {
  std::set<TableRead> reads;
  // The authorizer is on only while this statement is prepared (nothing runs it).
  struct Authorizer {
    sqlite3* db;
    Authorizer(sqlite3* handle, std::set<TableRead>* out) : db(handle) {
      sqlite3_set_authorizer(db, collect_reads, out);
    }
    Authorizer(const Authorizer&) = delete;
    Authorizer& operator=(const Authorizer&) = delete;
    ~Authorizer() { sqlite3_set_authorizer(db, nullptr, nullptr); }
  } authorizer(connection.handle(), &reads);
  SqliteStatement select(connection, "SELECT * FROM " + table.quoted());
  return reads;
}

}  // namespace

void inspect_reads(SqliteConnection& connection, const Table& pending, const Table& users,
                   bool (*same)(SqliteConnection&, const Table&, const Table&),
                   PreflightFacts& facts) {
  std::set<std::string> reads;
  std::set<std::string> shared;
  std::set<std::string> unverified;
  if (users.type == "virtual")
    unverified.insert("virtual table " + users.schema + "." + users.name);
  for (const auto& [database, name] : tables_read(connection, users)) {
    // Without a database: looked up the way SQLite resolves an unqualified name.
    Table read = resolve(connection, {database, name});
    if (read.name.empty()) {
      read.schema = database;
      read.name = name;
    }
    const std::string shown = read.schema + "." + read.name;
    reads.insert(shown);
    if (same(connection, pending, read)) shared.insert(shown);
    if (read.type == "virtual") unverified.insert("virtual table " + shown);
  }
  facts.users_reads.assign(reads.begin(), reads.end());
  facts.shared_reads.assign(shared.begin(), shared.end());
  facts.unverified_reads.assign(unverified.begin(), unverified.end());
}

void inspect_collation(SqliteConnection& connection, const Table& table, const std::string& column,
                       ColumnFacts& facts) {
  std::string database = table.schema;
  std::string origin_table = table.name;
  std::string origin_column = column;
  if (table.type != "table") {
    SqliteStatement select(connection,
                           "SELECT " + sqlite_dialect().quote(column) + " FROM " + table.quoted());
    const auto origin = select.origin(0);
    if (origin.column.empty()) {
      facts.collation = "";
      facts.collation_exact = false;  // an expression: its collation cannot be told
      return;
    }
    database = origin.database;
    origin_table = origin.table;
    origin_column = origin.column;
  }
  const char* collation = nullptr;
  const int rc = sqlite3_table_column_metadata(connection.handle(), database.c_str(),
                                               origin_table.c_str(), origin_column.c_str(), nullptr,
                                               &collation, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    facts.collation = "";
    facts.collation_exact = false;
    return;
  }
  facts.collation = collation != nullptr ? collation : "BINARY";
  facts.collation_exact = equal_nocase(facts.collation, "BINARY");
}

}  // namespace batch_cleanup::store::sqlite
