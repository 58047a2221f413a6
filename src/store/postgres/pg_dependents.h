// PostgreSQL: the foreign keys that reference the pending table, recursively through CASCADE
// edges (pg_constraint), and whether an index serves each.
#pragma once

#include <string>
#include <vector>

#include "store/facts.h"
#include "store/postgres/pg_session.h"

namespace batch_cleanup::store::postgres {

// The dependents of relation `pending_oid` (named `pending_name` in the facts), parents before
// their children. Throws DatabaseError.
std::vector<DependentTable> inspect_dependents(PgSession& session, const std::string& pending_oid,
                                               const std::string& pending_name);

}  // namespace batch_cleanup::store::postgres
