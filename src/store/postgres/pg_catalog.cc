#include "store/postgres/pg_catalog.h"

#include <fmt/format.h>

#include <algorithm>

#include "batch_cleanup/errors.h"
#include "store/postgres/pg_dependents.h"
#include "store/postgres/pg_dialect.h"
#include "store/postgres/pg_relation_reads.h"
#include "store/reasons.h"

namespace batch_cleanup::store::postgres {
namespace {

struct Relation {
  RelationFacts facts;
  std::string oid;
  std::string relkind;
};

Relation resolve(PgSession& session, const config::QualifiedName& name) {
  Relation relation;
  relation.facts.name = name.display();
  const auto rows = session.exec(
      "SELECT c.oid::text, c.relkind::text, has_table_privilege(c.oid, 'SELECT'), "
      "has_table_privilege(c.oid, 'DELETE'), has_table_privilege(c.oid, 'INSERT'), "
      "has_any_column_privilege(c.oid, 'UPDATE') FROM pg_catalog.pg_class c "
      "WHERE c.oid = to_regclass($1)",
      {pg_dialect().quote(name)});
  if (rows.rows() == 0) return relation;
  relation.oid = rows.text(0, 0);
  relation.relkind = rows.text(0, 1);
  auto& facts = relation.facts;
  facts.exists = true;
  facts.kind = "relkind " + relation.relkind;
  facts.is_table = relation.relkind == "r" || relation.relkind == "p";
  facts.partitioned = relation.relkind == "p";
  facts.can_select = rows.text(0, 2) == "t";
  facts.can_delete = rows.text(0, 3) == "t";
  facts.can_insert = rows.text(0, 4) == "t";
  facts.can_update = rows.text(0, 5) == "t";
  return relation;
}

struct Column {
  ColumnFacts facts;
  std::string attnum;
};

Column column(PgSession& session, const Relation& relation, const std::string& name) {
  Column out;
  out.facts.checked = true;
  // The collation = uses (none for a type that is not collatable), and whether the type is
  // citext (or a domain over it), whose = ignores case whatever the collation.
  const auto rows = session.exec(
      "SELECT a.attnum::text, format_type(a.atttypid, a.atttypmod), coalesce(co.collname::text, "
      "''), coalesce(co.collisdeterministic, true), coalesce((SELECT bt.typname = 'citext' FROM "
      "pg_catalog.pg_type t JOIN pg_catalog.pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' "
      "THEN t.typbasetype ELSE t.oid END WHERE t.oid = a.atttypid), false) FROM "
      "pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation "
      "WHERE a.attrelid = $1::oid AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
      {relation.oid, name});
  if (rows.rows() == 0) return out;
  out.facts.exists = true;
  out.attnum = rows.text(0, 0);
  out.facts.type = rows.text(0, 1);
  out.facts.collation = rows.text(0, 2);
  out.facts.collation_exact = rows.text(0, 3) == "t";
  out.facts.case_insensitive_type = rows.text(0, 4) == "t";
  return out;
}

// Whether an index of the users table serves the probe `users_side = pending_side` of a batch,
// asked of the planner with sequential scans disabled (so table sizes and statistics do not
// matter): the probe of users (alias u) must be an index scan with an Index Cond.
bool users_index_serves(PgSession& session, const TableNames& names, const std::string& users_side,
                        const std::string& pending_side) {
  PgTransaction tx(session);
  session.exec("SELECT set_config('enable_seqscan', 'off', true)");
  const auto plan =
      session.exec("EXPLAIN (COSTS OFF) SELECT 1 FROM " + pg_dialect().quote(names.pending) +
                   " p WHERE EXISTS (SELECT 1 FROM " + pg_dialect().quote(names.users) +
                   " u WHERE " + users_side + " = " + pending_side + " OFFSET 0)");
  // A full index scan with a Filter does not count.
  bool in_users_index_scan = false;
  for (int r = 0; r < plan.rows(); ++r) {
    const std::string line = plan.text(r, 0);
    if (line.find("->") != std::string::npos || r == 0) {
      const bool on_users = line.size() >= 2 && line.compare(line.size() - 2, 2, " u") == 0;
      in_users_index_scan = on_users && line.find("Index") != std::string::npos;
    } else if (in_users_index_scan && line.find("Index Cond:") != std::string::npos) {
      return true;
    }
  }
  return false;
}

// A plain (btree or hash) index whose first column is `attnum`.
bool column_indexed(PgSession& session, const std::string& oid, const std::string& attnum) {
  return session
             .exec(
                 "SELECT count(*) FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON "
                 "ic.oid = i.indexrelid JOIN pg_catalog.pg_am am ON am.oid = ic.relam WHERE "
                 "i.indrelid = $1::oid AND i.indkey[0] = $2::smallint AND i.indexprs IS NULL AND "
                 "i.indpred IS NULL AND i.indisvalid AND am.amname IN ('btree', 'hash')",
                 {oid, attnum})
             .integer(0, 0) > 0;
}

bool column_unique(PgSession& session, const std::string& oid, const std::string& attnum) {
  return session
             .exec(
                 "SELECT count(*) FROM pg_catalog.pg_index i WHERE i.indrelid = $1::oid AND "
                 "i.indisunique AND i.indnkeyatts = 1 AND i.indkey[0] = $2::smallint AND "
                 "i.indexprs IS NULL AND i.indpred IS NULL",
                 {oid, attnum})
             .integer(0, 0) > 0;
}

// How many rows a heap page visited in email order serves: 3 runs of 2,000 consecutive emails
// from random starts (a TABLESAMPLE of about 8 pages), their rows over their distinct pages.
void measure_email_order(PgSession& session, const TableNames& names, const std::string& oid,
                         const std::string& email, PreflightFacts& facts) {
  facts.pending_pages =
      session
          .exec("SELECT pg_relation_size($1::oid) / current_setting('block_size')::bigint", {oid})
          .integer(0, 0);
  facts.shared_buffers_pages =
      session
          .exec("SELECT setting::bigint FROM pg_catalog.pg_settings WHERE name = 'shared_buffers'")
          .integer(0, 0);
  if (facts.pending_pages == 0) return;
  const double percent = std::min(100.0, 100.0 * 8.0 / static_cast<double>(facts.pending_pages));
  const std::string pending = pg_dialect().quote(names.pending);
  const auto row = session.exec(
      "SELECT coalesce(sum(n)::float8 / nullif(sum(pages), 0), 0)::text FROM (SELECT count(*) AS "
      "n, count(DISTINCT (w.ctid::text::point)[0]) AS pages FROM (SELECT s." +
          email + " AS start FROM " + pending + " s TABLESAMPLE SYSTEM ($1::float8) WHERE s." +
          email +
          " IS NOT NULL ORDER BY random() LIMIT 3) starts CROSS JOIN LATERAL (SELECT p.ctid "
          "FROM " +
          pending + " p WHERE p." + email + " >= starts.start ORDER BY p." + email +
          " LIMIT 2000) w GROUP BY starts.start) runs",
      {fmt::format("{}", percent)});
  facts.email_order_rows_per_page = std::stod(row.text(0, 0));
}

void inspect_email_index(PgSession& session, const TableNames& names, const CleanupConfig& config,
                         const Relation& users, const Column& users_email, PreflightFacts& facts) {
  auto& index = facts.users_email_index;
  index.checked = true;
  if (!rewrites_email(config.normalize_email)) {
    index.present = column_indexed(session, users.oid, users_email.attnum);
    index.advice = "CREATE INDEX CONCURRENTLY ON " + pg_dialect().quote(names.users) + " (" +
                   names.email + ");";
    return;
  }
  index.served = normalized_email(config.normalize_email, names.email);
  index.present = users_index_serves(session, names,
                                     normalized_email(config.normalize_email, "u." + names.email),
                                     normalized_email(config.normalize_email, "p." + names.email));
  index.advice =
      "CREATE INDEX CONCURRENTLY " +
      pg_dialect().quote(
          names.users.name.substr(0, 40) + "_email_" +
          (config.normalize_email == EmailNormalization::kLower ? "lower" : "lower_trim") +
          "_idx") +
      " ON " + pg_dialect().quote(names.users) + " (" + index.served + ");";
}

void inspect_created(PgSession& session, const CleanupConfig& config, const Column& created,
                     PgCatalog& catalog) {
  auto& facts = catalog.facts;
  const std::string& type = created.facts.type;
  const bool timestamp = type.rfind("timestamp", 0) == 0;
  // The zone is checked whatever the column's type: a typo is refused even where the zone is
  // not used (timestamptz carries its offset), rather than surfacing when the column changes.
  try {
    session.exec("SELECT now() AT TIME ZONE $1::text", {config.created_time_zone});
  } catch (const DatabaseError& e) {
    if (e.kind() == ErrorKind::kRetryable) throw;
    facts.created_time_zone_error = e.what();
  }
  if (timestamp && type.find("with time zone") != std::string::npos &&
      type.find("without") == std::string::npos) {
    facts.created_kind = TimeKind::kWithZone;
    return;
  }
  facts.created_kind =
      timestamp ? TimeKind::kWithoutZone : (type == "date" ? TimeKind::kDate : TimeKind::kNotATime);
  if (facts.created_kind == TimeKind::kNotATime) return;
  catalog.created_zone = config.created_time_zone;
}

}  // namespace

std::vector<std::string> relation_columns(PgSession& session, const std::string& oid) {
  const auto rows = session.exec(
      "SELECT a.attname::text FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::oid AND "
      "a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
      {oid});
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(rows.rows()));
  for (int r = 0; r < rows.rows(); ++r) out.push_back(rows.text(r, 0));
  return out;
}

PgCatalog inspect_catalog(PgSession& session, const TableNames& names,
                          const CleanupConfig& config) {
  PgCatalog catalog;
  auto& facts = catalog.facts;
  facts.server_version_num = session.server_version();
  facts.capabilities = postgres_capabilities(facts.server_version_num);
  facts.server_version = session.exec("SHOW server_version").text(0, 0);
  facts.names_case_sensitive = true;
  facts.has_roles = true;
  // What a session starts with (the role's, the database's, the server's), whatever this
  // transaction set locally.
  const auto limits = session.exec(
      "SELECT coalesce(max(reset_val::bigint) FILTER (WHERE name = 'statement_timeout'), 0), "
      "coalesce(max(reset_val::bigint) FILTER (WHERE name = 'lock_timeout'), 0) FROM "
      "pg_catalog.pg_settings WHERE name IN ('statement_timeout', 'lock_timeout')");
  facts.server_statement_timeout = std::chrono::milliseconds(limits.integer(0, 0));
  facts.server_lock_timeout = std::chrono::milliseconds(limits.integer(0, 1));

  const Relation pending = resolve(session, names.pending);
  facts.pending = pending.facts;
  facts.pending.name = names.pending.display();
  if (!pending.facts.exists) return catalog;
  const Relation users = resolve(session, names.users);
  facts.users = users.facts;
  facts.users.name = names.users.display();
  if (!users.facts.exists) return catalog;
  facts.same_relation = pending.oid == users.oid;
  inspect_reads(session, pending.oid, users.oid, facts);
  catalog.pending_oid = pending.oid;
  catalog.users_oid = users.oid;
  if (facts.same_relation || !facts.pending.is_table) return catalog;

  const Column key = column(session, pending, config.pending_key);
  facts.key = key.facts;
  const Column pending_email = column(session, pending, config.email_column);
  facts.pending_email = pending_email.facts;
  const Column users_email = column(session, users, config.email_column);
  facts.users_email = users_email.facts;
  if (!facts.key.exists || !facts.pending_email.exists || !facts.users_email.exists) {
    return catalog;
  }
  catalog.key_type = key.facts.type;
  catalog.email_type = pending_email.facts.type;
  facts.key_unique = column_unique(session, pending.oid, key.attnum);
  facts.pending_email_unique = column_unique(session, pending.oid, pending_email.attnum);
  if (facts.pending_email_unique && !facts.pending.partitioned) {
    measure_email_order(session, names, pending.oid, names.email, facts);
  }
  // A view or a foreign table has no index of its own to advise (what serves a probe through a
  // view is an index of what it reads).
  const bool indexable = users.relkind == "r" || users.relkind == "p" || users.relkind == "m";
  if (config.match_email && indexable) {
    inspect_email_index(session, names, config, users, users_email, facts);
  }
  if (config.match_phone) {
    facts.pending_phone = column(session, pending, config.phone_column).facts;
    facts.users_phone = column(session, users, config.phone_column).facts;
    if (facts.pending_phone.exists && facts.users_phone.exists && indexable) {
      facts.users_phone_index.checked = true;
      facts.users_phone_index.present =
          users_index_serves(session, names, "u." + names.phone, "p." + names.phone);
      facts.users_phone_index.advice = "CREATE INDEX CONCURRENTLY ON " +
                                       pg_dialect().quote(names.users) + " (" + names.phone + ");";
    }
  }
  if (uses_created(config)) {
    const Column created = column(session, pending, config.created_column);
    facts.created = created.facts;
    if (created.facts.exists) inspect_created(session, config, created, catalog);
  }

  if (facts.pending.partitioned) {
    facts.physical = PhysicalSupport::kPartitioned;
  } else if (facts.server_version_num < kPhysicalBatchesServer) {
    facts.physical = PhysicalSupport::kServerTooOld;
  }
  const auto columns = session.exec(
      "SELECT a.attname::text, a.attgenerated <> '' FROM pg_catalog.pg_attribute a WHERE "
      "a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
      {pending.oid});
  for (int r = 0; r < columns.rows(); ++r) {
    catalog.pending_columns.push_back({columns.text(r, 0), columns.text(r, 1) == "t"});
  }
  catalog.qualified_pending = session
                                  .exec(
                                      "SELECT format('%I.%I', n.nspname, c.relname) FROM "
                                      "pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON "
                                      "n.oid = c.relnamespace WHERE c.oid = $1::oid",
                                      {pending.oid})
                                  .text(0, 0);
  facts.dependents = inspect_dependents(session, pending.oid, catalog.qualified_pending);
  return catalog;
}

}  // namespace batch_cleanup::store::postgres
