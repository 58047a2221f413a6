// SQLite: what a statement selecting from a table or view reads, as SQLite itself resolves it
// (the authorizer reports every table a prepared statement reads, through views), and the
// collation an email column compares under, for guards 'distinct-tables' and 'exact-email'.
#pragma once

#include <string>

#include "store/facts.h"
#include "store/sqlite/sqlite_catalog.h"
#include "store/sqlite/sqlite_connection.h"

namespace batch_cleanup::store::sqlite {

// Fills facts.users_reads, facts.shared_reads and facts.unverified_reads. `same` tells whether
// two tables are one (the same schema, or one file attached twice). Throws DatabaseError.
void inspect_reads(SqliteConnection& connection, const Table& pending, const Table& users,
                   bool (*same)(SqliteConnection&, const Table&, const Table&),
                   PreflightFacts& facts);

// Fills column.collation and column.collation_exact for `column` of `table` (a view's column is
// followed to the table column it shows; an expression's collation cannot be told).
void inspect_collation(SqliteConnection& connection, const Table& table, const std::string& column,
                       ColumnFacts& facts);

}  // namespace batch_cleanup::store::sqlite
