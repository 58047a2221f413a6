// PostgreSQL preflight: the facts about the configured tables (pg_catalog, privileges, the
// planner's view of the users indexes, the server version), and what the store's statements
// need from the catalog.
#pragma once

#include <string>
#include <vector>

#include "batch_cleanup/config.h"
#include "config/identifier.h"
#include "store/facts.h"
#include "store/postgres/pg_session.h"

namespace batch_cleanup::store::postgres {

// The configured names, validated and quoted once.
struct PgNames {
  explicit PgNames(const CleanupConfig& config);
  config::QualifiedName pending;
  config::QualifiedName users;
  config::QualifiedName history;
  std::string key;      // quoted
  std::string email;    // quoted
  std::string phone;    // quoted; with --match phone
  std::string created;  // quoted; with --expire-after or --min-age
};

struct PendingColumn {
  std::string name;
  bool generated = false;
};

struct PgCatalog {
  PreflightFacts facts;
  std::string pending_oid;
  std::string users_oid;
  std::string key_type;  // format_type() of the key column
  std::vector<PendingColumn> pending_columns;
  std::string qualified_pending;  // schema.table, as the server resolved it
  // The zone the creation column is read in ("" for timestamptz).
  std::string created_zone;
};

// Looks everything up; stops early (with facts saying why) when a table is missing. Throws
// DatabaseError.
PgCatalog inspect_catalog(PgSession& session, const PgNames& names, const CleanupConfig& config);

// The columns of relation `oid`, in order.
std::vector<std::string> relation_columns(PgSession& session, const std::string& oid);

}  // namespace batch_cleanup::store::postgres
