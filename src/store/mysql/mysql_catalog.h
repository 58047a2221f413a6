// MySQL/MariaDB preflight: the facts about the configured tables from information_schema
// (tables, columns with their types and collations, the primary key and unique indexes, the
// users indexes that serve the probes), the server's version and its session limits.
#pragma once

#include <string>
#include <vector>

#include "batch_cleanup/config.h"
#include "store/facts.h"
#include "store/mysql/mysql_session.h"
#include "store/table_names.h"

namespace batch_cleanup::store::mysql {

inline constexpr const char* kBackendName = "mysql";

// What the server can do: MariaDB 10.6 or later (SKIP LOCKED, JSON_TABLE, SET STATEMENT);
// other servers (MySQL) are refused for now.
Capabilities mysql_capabilities(const MysqlSession& session);

// A column of the pending table, as information_schema.columns describes it.
struct MysqlColumn {
  std::string name;
  std::string column_type;  // as declared: varchar(191), int(10) unsigned, enum('a','b')
  std::string data_type;    // varchar, int, blob...
  std::string charset;      // "" for a column without one
  std::string collation;
  bool generated = false;  // VIRTUAL or STORED: computed again on insert
};

struct MysqlCatalog {
  PreflightFacts facts;
  std::string schema;        // the database holding the pending table
  std::string qualified;     // schema.table of the pending table, unquoted (the lease's name)
  bool key_integer = false;  // the key is an integer column: keyset values bind as integers
  std::string users_schema;  // the database holding the users table
  std::vector<MysqlColumn> pending_columns;  // in their order
};

// Throws DatabaseError.
MysqlCatalog inspect_catalog(MysqlSession& session, const TableNames& names,
                             const CleanupConfig& config);

}  // namespace batch_cleanup::store::mysql
