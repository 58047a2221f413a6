// SQLite: the foreign keys that reference the pending table (PRAGMA foreign_key_list over every
// table of its database), recursively through CASCADE edges, and whether the connection enforces
// them (PRAGMA foreign_keys).
#pragma once

#include <string>
#include <vector>

#include "store/facts.h"
#include "store/sqlite/sqlite_catalog.h"
#include "store/sqlite/sqlite_connection.h"

namespace batch_cleanup::store::sqlite {

// Fills facts.dependents and facts.foreign_keys_enforced. `pending_name` names the pending
// table in the facts. Throws DatabaseError.
void inspect_dependents(SqliteConnection& connection, const Table& pending,
                        const std::string& pending_name, PreflightFacts& facts);

}  // namespace batch_cleanup::store::sqlite
