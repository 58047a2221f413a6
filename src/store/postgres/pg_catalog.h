// PostgreSQL preflight: the facts about the configured tables (pg_catalog, privileges, the
// planner's view of the users indexes, the server version), and what the store's statements
// need from the catalog.
#pragma once

#include <string>
#include <vector>

#include "batch_cleanup/config.h"
#include "config/identifier.h"
#include "store/facts.h"
#include "store/postgres/pg_capabilities.h"
#include "store/postgres/pg_session.h"
#include "store/table_names.h"

namespace batch_cleanup::store::postgres {

struct PendingColumn {
  std::string name;
  bool generated = false;
};

struct PgCatalog {
  PreflightFacts facts;
  std::string pending_oid;
  std::string users_oid;
  std::string key_type;    // format_type() of the key column
  std::string email_type;  // format_type() of the pending email column
  std::vector<PendingColumn> pending_columns;
  std::string qualified_pending;  // schema.table, as the server resolved it
  // The zone the creation column is read in ("" for timestamptz).
  std::string created_zone;
};

// Looks everything up; stops early (with facts saying why) when a table is missing. Throws
// DatabaseError.
PgCatalog inspect_catalog(PgSession& session, const TableNames& names, const CleanupConfig& config);

// The columns of relation `oid`, in order.
std::vector<std::string> relation_columns(PgSession& session, const std::string& oid);

}  // namespace batch_cleanup::store::postgres
