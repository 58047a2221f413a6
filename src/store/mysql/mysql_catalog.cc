#include "store/mysql/mysql_catalog.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "store/mysql/mysql_dependents.h"
#include "store/mysql/mysql_dialect.h"
#include "store/mysql/mysql_grants.h"
#include "store/reasons.h"

namespace batch_cleanup::store::mysql {
namespace {

// The oldest server this store runs against (SKIP LOCKED: 10.6).
constexpr int kOldestMariadb = 100600;

std::string schema_of(MysqlSession& session, const config::QualifiedName& name) {
  if (!name.schema.empty()) return name.schema;
  return session.exec("SELECT database()").text(0, 0);
}

RelationFacts relation(MysqlSession& session, const config::QualifiedName& name,
                       const std::string& schema) {
  RelationFacts facts;
  facts.name = name.display();
  const auto rows = session.exec(
      "SELECT table_type FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
      {schema, name.name});
  facts.exists = !rows.empty();
  if (!facts.exists) return facts;
  facts.kind = "table_type " + rows.text(0, 0);
  facts.is_table = rows.text(0, 0) == "BASE TABLE";
  // Until the account's grants are read (probe_grants()).
  facts.can_select = facts.can_delete = facts.can_insert = facts.can_update = true;
  return facts;
}

// What the users side reads, for guard 'distinct-tables'. A base table of a local engine reads
// itself. What a view reads, and what a FEDERATED, CONNECT, SPIDER or MERGE table reads, is not
// followed on MySQL/MariaDB: it is reported as unverified, so that the engine refuses it unless
// --allow-unverified-users-table.
void users_reads(MysqlSession& session, const std::string& schema,
                 const config::QualifiedName& name, PreflightFacts& facts) {
  const auto rows = session.exec(
      "SELECT table_type, coalesce(engine, '') FROM information_schema.tables WHERE "
      "table_schema = ? AND table_name = ?",
      {schema, name.name});
  const std::string qualified = schema + "." + name.name;
  facts.users_reads = {qualified};
  if (rows.empty()) return;
  const std::string type = rows.text(0, 0);
  std::string engine = rows.text(0, 1);
  std::transform(engine.begin(), engine.end(), engine.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (type != "BASE TABLE") {
    facts.unverified_reads.push_back(
        type == "VIEW"
            ? "view " + qualified + " (what a view reads is not followed on MySQL/MariaDB)"
            : type + " " + qualified);
  } else if (engine == "FEDERATED" || engine == "CONNECT" || engine == "SPIDER" ||
             engine == "MRG_MYISAM") {
    facts.unverified_reads.push_back("table " + qualified + " of engine " + rows.text(0, 1) +
                                     " (its rows live elsewhere)");
  }
}

ColumnFacts column(MysqlSession& session, const std::string& schema, const std::string& table,
                   const std::string& name) {
  ColumnFacts facts;
  facts.checked = true;
  const auto rows = session.exec(
      "SELECT data_type, collation_name FROM information_schema.columns WHERE table_schema = ? "
      "AND table_name = ? AND column_name = ?",
      {schema, table, name});
  facts.exists = !rows.empty();
  if (facts.exists) {
    facts.type = rows.text(0, 0);
    facts.collation = rows.text(0, 1);
  }
  return facts;
}

// A unique index (or the primary key) of exactly this one column.
bool unique_on(MysqlSession& session, const std::string& schema, const std::string& table,
               const std::string& column) {
  return !session
              .exec(
                  "SELECT index_name FROM information_schema.statistics WHERE table_schema = ? "
                  "AND table_name = ? AND non_unique = 0 GROUP BY index_name HAVING count(*) = "
                  "1 AND max(column_name) = ?",
                  {schema, table, column})
              .empty();
}

// An index whose first column is `column` (serves the equality probe of a batch).
bool index_leads_with(MysqlSession& session, const std::string& schema, const std::string& table,
                      const std::string& column) {
  return !session
              .exec(
                  "SELECT 1 FROM information_schema.statistics WHERE table_schema = ? AND "
                  "table_name = ? AND seq_in_index = 1 AND column_name = ? LIMIT 1",
                  {schema, table, column})
              .empty();
}

IndexFacts index_facts(MysqlSession& session, const std::string& schema,
                       const config::QualifiedName& table, const std::string& column) {
  IndexFacts index;
  index.checked = true;
  index.served = mysql_dialect().quote(column);
  index.present = index_leads_with(session, schema, table.name, column);
  if (!index.present) {
    index.advice = "CREATE INDEX " + mysql_dialect().quote(table.name + "_" + column + "_idx") +
                   " ON " + mysql_dialect().quote(table) + " (" + mysql_dialect().quote(column) +
                   ")";
  }
  return index;
}

std::vector<MysqlColumn> columns_of(MysqlSession& session, const std::string& schema,
                                    const std::string& table) {
  const auto rows = session.exec(
      "SELECT column_name, column_type, data_type, coalesce(character_set_name, ''), "
      "coalesce(collation_name, ''), extra LIKE '%VIRTUAL GENERATED%' OR extra LIKE "
      "'%STORED GENERATED%' FROM information_schema.columns WHERE table_schema = ? AND "
      "table_name = ? ORDER BY ordinal_position",
      {schema, table});
  std::vector<MysqlColumn> out;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    out.push_back({rows.text(r, 0), rows.text(r, 1), rows.text(r, 2), rows.text(r, 3),
                   rows.text(r, 4), rows.integer(r, 5) != 0});
  }
  return out;
}

TimeKind time_kind(const std::string& type) {
  if (type == "datetime" || type == "timestamp") return TimeKind::kWithoutZone;
  if (type == "date") return TimeKind::kDate;
  return TimeKind::kNotATime;
}

}  // namespace

Capabilities mysql_capabilities(const MysqlSession& session) {
  Capabilities capabilities;
  capabilities.backend = kBackendName;
  capabilities.product = session.mariadb() ? "MariaDB" : "MySQL";
  if (!session.mariadb() || session.version_num() < kOldestMariadb) {
    capabilities.oldest_supported = "MariaDB 10.6 (MySQL servers are not supported yet)";
  }
  // InnoDB's physical order is the primary key itself: batches walk it as a keyset.
  capabilities.physical_order = PhysicalOrder::kNone;
  // MariaDB 10.6+; unsafe for statement-based replication (which rows it skips depends on
  // what others hold at that moment).
  capabilities.skip_locked = !session.statement_binlog();
  capabilities.delete_returning = false;  // MariaDB has it for single-table DELETE only; unused
  capabilities.savepoints = true;
  capabilities.parallel_slices = true;  // primary-key ranges (--workers)
  // A _bin column compared with a _ci one silently compares in binary.
  capabilities.collations_mix_silently = true;
  capabilities.transaction_scoped_settings = true;  // SET STATEMENT ... FOR, per statement
  capabilities.lock_mechanisms = {LockMechanism::kLeaseTable};
  return capabilities;
}

MysqlCatalog inspect_catalog(MysqlSession& session, const TableNames& names,
                             const CleanupConfig& config) {
  MysqlCatalog catalog;
  auto& facts = catalog.facts;
  facts.capabilities = mysql_capabilities(session);
  facts.server_version_num = session.version_num();
  facts.server_version = session.version();
  facts.names_case_sensitive = session.exec("SELECT @@lower_case_table_names").integer(0, 0) == 0;
  facts.has_roles = true;
  facts.physical = PhysicalSupport::kNoPhysicalOrder;
  const auto limits = session.exec("SELECT @@max_statement_time, @@innodb_lock_wait_timeout");
  facts.server_statement_timeout =
      std::chrono::milliseconds(std::llround(limits.real(0, 0) * 1000.0));
  facts.server_lock_timeout = std::chrono::milliseconds(limits.integer(0, 1) * 1000);

  catalog.schema = schema_of(session, names.pending);
  catalog.qualified = catalog.schema + "." + names.pending.name;
  const std::string users_schema = schema_of(session, names.users);
  catalog.users_schema = users_schema;
  facts.pending = relation(session, names.pending, catalog.schema);
  if (!facts.pending.exists) return catalog;
  facts.users = relation(session, names.users, users_schema);
  if (!facts.users.exists) return catalog;
  probe_grants(session, names, config, {catalog.schema, users_schema}, facts);
  facts.same_relation = catalog.schema == users_schema && names.pending.name == names.users.name;
  if (facts.same_relation || !facts.pending.is_table) return catalog;
  users_reads(session, users_schema, names.users, facts);
  inspect_dependents(session, catalog.schema, names.pending.name, names.pending.display(), facts);

  const auto& pending = names.pending.name;
  const auto& users = names.users.name;
  facts.key = column(session, catalog.schema, pending, config.pending_key);
  facts.pending_email = column(session, catalog.schema, pending, config.email_column);
  facts.users_email = column(session, users_schema, users, config.email_column);
  if (!facts.key.exists || !facts.pending_email.exists || !facts.users_email.exists) {
    return catalog;
  }
  catalog.key_integer = facts.key.type.find("int") != std::string::npos;
  catalog.pending_columns = columns_of(session, catalog.schema, pending);
  facts.key_unique = unique_on(session, catalog.schema, pending, config.pending_key);
  facts.pending_email_unique = unique_on(session, catalog.schema, pending, config.email_column);
  if (config.match_email) {
    facts.users_email_index = index_facts(session, users_schema, names.users, config.email_column);
    if (rewrites_email(config.normalize_email)) {
      // MariaDB has no index on an expression: every probe of lower(email) reads the users
      // table.
      auto& index = facts.users_email_index;
      index.present = false;
      index.served =
          normalized_email(config.normalize_email, mysql_dialect().quote(config.email_column));
      index.advice = "no index on MySQL/MariaDB serves " + index.served +
                     " = ...; --normalize-email collation, with both email columns under one "
                     "case-insensitive (_ci) collation, compares through the index on " +
                     mysql_dialect().quote(config.email_column) + " instead";
    }
  }
  if (config.match_phone) {
    facts.pending_phone = column(session, catalog.schema, pending, config.phone_column);
    facts.users_phone = column(session, users_schema, users, config.phone_column);
    if (facts.pending_phone.exists && facts.users_phone.exists) {
      facts.users_phone_index =
          index_facts(session, users_schema, names.users, config.phone_column);
    }
  }
  if (uses_created(config)) {
    facts.created = column(session, catalog.schema, pending, config.created_column);
    if (facts.created.exists) facts.created_kind = time_kind(facts.created.type);
  }
  if (config.expired_for) {
    facts.expires = column(session, catalog.schema, pending, config.expires_column);
    if (facts.expires.exists) facts.expires_kind = time_kind(facts.expires.type);
  }
  for (const auto& name : condition_column_names(config)) {
    PreflightFacts::ConditionColumnFacts c{name, column(session, catalog.schema, pending, name)};
    if (c.column.exists) c.kind = time_kind(c.column.type);
    facts.condition_columns.push_back(std::move(c));
  }
  return catalog;
}

}  // namespace batch_cleanup::store::mysql
