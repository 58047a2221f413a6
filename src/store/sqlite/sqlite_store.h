// The SQLite store (the sqlite3 C API), for small services that keep their users in an embedded
// database file: one connection, the schema facts, and the roles built on them.
#pragma once

#include <memory>

#include "batch_cleanup/config.h"
#include "config/database_url.h"
#include "store/store.h"

namespace batch_cleanup::store::sqlite {

// Opens target.sqlite_path on connect(); never creates the file (a missing file is a
// ConfigError) and never changes persistent settings such as journal_mode.
std::unique_ptr<Store> make_sqlite_store(const CleanupConfig& config,
                                         const config::DatabaseTarget& target);

}  // namespace batch_cleanup::store::sqlite
