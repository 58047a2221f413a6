// The SQLite store (the sqlite3 C API), for small services that keep their users in an embedded
// database file: one connection, the schema facts, and the roles built on them.
#pragma once

#include <memory>

#include "batch_cleanup/config.h"
#include "config/database_url.h"
#include "store/sql/policy_spec.h"
#include "store/sqlite/sqlite_batch_sql.h"
#include "store/sqlite/sqlite_catalog.h"
#include "store/store.h"
#include "store/table_names.h"

namespace batch_cleanup::store::sqlite {

// What the predicate compares, once the catalog has resolved the users table's database.
sql::PredicateColumns predicate_columns(const SqliteCatalog& catalog, const TableNames& names);

// What the batches of a configuration run against (configure() builds them from it).
SqliteBatchSetup batch_setup(const CleanupConfig& config, const SqliteCatalog& catalog,
                             const TableNames& names, const sql::PredicateSpec& predicate,
                             bool key_mode);

// Opens target.sqlite_path on connect(); never creates the file (a missing file is a
// ConfigError) and never changes persistent settings such as journal_mode.
std::unique_ptr<Store> make_sqlite_store(const CleanupConfig& config,
                                         const config::DatabaseTarget& target);

}  // namespace batch_cleanup::store::sqlite
