// PostgreSQL: what a statement selecting from a relation reads, resolved through the catalog
// (views and materialized views through their rewrite rules' dependencies in pg_depend,
// recursively; tables through pg_inherits to their children and partitions), for guard
// 'distinct-tables'.
#pragma once

#include <string>

#include "store/facts.h"
#include "store/postgres/pg_session.h"

namespace batch_cleanup::store::postgres {

// Fills facts.users_reads, facts.shared_reads and facts.unverified_reads for the users table
// `users_oid` and the pending table `pending_oid`. Throws DatabaseError.
void inspect_reads(PgSession& session, const std::string& pending_oid, const std::string& users_oid,
                   PreflightFacts& facts);

}  // namespace batch_cleanup::store::postgres
