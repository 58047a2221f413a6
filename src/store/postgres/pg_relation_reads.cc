#include "store/postgres/pg_relation_reads.h"

#include <set>
#include <vector>

namespace batch_cleanup::store::postgres {
namespace {

// Objects created by users (and extensions) have OIDs from FirstNormalObjectId on; below it
// are the server's own (built-in functions read no table).
constexpr const char* kFirstNormalObjectId = "16384";

struct ReadRelation {
  std::string oid;
  std::string name;  // schema.table
  std::string relkind;
  std::string server;  // a foreign table's server
};

// The relation itself, what its rewrite rule depends on (a view's or materialized view's
// query), and the children and partitions of every table among them, recursively.
std::vector<ReadRelation> relations_read(PgSession& session, const std::string& oid) {
  const auto rows = session.exec(
      "WITH RECURSIVE reads(oid) AS (SELECT $1::oid UNION SELECT x.oid FROM reads r CROSS JOIN "
      "LATERAL (SELECT d.refobjid AS oid FROM pg_catalog.pg_rewrite w JOIN pg_catalog.pg_depend d "
      "ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = w.oid AND d.refclassid = "
      "'pg_catalog.pg_class'::regclass WHERE w.ev_class = r.oid AND d.refobjid <> r.oid UNION "
      "ALL SELECT i.inhrelid FROM pg_catalog.pg_inherits i WHERE i.inhparent = r.oid) x) "
      "SELECT c.oid::text, format('%I.%I', n.nspname, c.relname), c.relkind::text, "
      "coalesce((SELECT s.srvname::text FROM pg_catalog.pg_foreign_table ft JOIN "
      "pg_catalog.pg_foreign_server s ON s.oid = ft.ftserver WHERE ft.ftrelid = c.oid), '') "
      "FROM reads JOIN pg_catalog.pg_class c ON c.oid = reads.oid JOIN pg_catalog.pg_namespace n "
      "ON n.oid = c.relnamespace ORDER BY 2",
      {oid});
  std::vector<ReadRelation> out;
  out.reserve(static_cast<std::size_t>(rows.rows()));
  for (int r = 0; r < rows.rows(); ++r) {
    out.push_back({rows.text(r, 0), rows.text(r, 1), rows.text(r, 2), rows.text(r, 3)});
  }
  return out;
}

// The user-defined functions the rewrite rules of `relations` call: a function may read any
// table, which the catalog does not record.
std::vector<std::string> functions_called(PgSession& session,
                                          const std::vector<ReadRelation>& relations) {
  std::string oids = "{";
  for (const auto& relation : relations) oids += (oids.size() > 1 ? "," : "") + relation.oid;
  oids += "}";
  const auto rows = session.exec(
      std::string("SELECT DISTINCT d.refobjid::regprocedure::text FROM pg_catalog.pg_rewrite w "
                  "JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass "
                  "AND d.objid = w.oid AND d.refclassid = 'pg_catalog.pg_proc'::regclass WHERE "
                  "w.ev_class = ANY ($1::oid[]) AND d.refobjid >= ") +
          kFirstNormalObjectId + " ORDER BY 1",
      {oids});
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(rows.rows()));
  for (int r = 0; r < rows.rows(); ++r) out.push_back(rows.text(r, 0));
  return out;
}

}  // namespace

void inspect_reads(PgSession& session, const std::string& pending_oid, const std::string& users_oid,
                   PreflightFacts& facts) {
  const auto users = relations_read(session, users_oid);
  std::set<std::string> pending;
  for (const auto& relation : relations_read(session, pending_oid)) pending.insert(relation.oid);
  for (const auto& relation : users) {
    facts.users_reads.push_back(relation.name);
    if (pending.count(relation.oid) > 0) facts.shared_reads.push_back(relation.name);
    if (relation.relkind == "f") {
      facts.unverified_reads.push_back("foreign table " + relation.name + " (server " +
                                       relation.server + ")");
    }
  }
  for (const auto& function : functions_called(session, users)) {
    facts.unverified_reads.push_back("function " + function);
  }
}

}  // namespace batch_cleanup::store::postgres
