#include "store/postgres/pg_archive.h"

#include <algorithm>
#include <set>

#include "batch_cleanup/errors.h"
#include "store/postgres/pg_dialect.h"
#include "store/sql/restore_sql.h"
#include "store/sql/table_sql.h"

namespace batch_cleanup::store::postgres {
namespace {

// The CASCADE dependents, each table once, parents before children, with their index in
// `facts.dependents`.
std::vector<std::size_t> cascaded_indexes(const PreflightFacts& facts) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < facts.dependents.size(); ++i) {
    const auto& dependent = facts.dependents[i];
    if (dependent.action != OnDelete::kCascade) continue;
    const bool seen = std::any_of(out.begin(), out.end(), [&](std::size_t j) {
      return facts.dependents[j].table == dependent.table;
    });
    if (!seen) out.push_back(i);
  }
  return out;
}

}  // namespace

std::vector<PgCascadedArchive> PgArchiveTable::cascaded_archives() {
  const auto& facts = catalog_.facts;
  const auto indexes = cascaded_indexes(facts);
  const auto archive = name();
  std::vector<PgCascadedArchive> out;
  for (const auto i : indexes) {
    const auto& dependent = facts.dependents[i];
    PgCascadedArchive c;
    c.table = pg_dialect().quote(dependent.schema) + "." + pg_dialect().quote(dependent.name);
    c.archive = pg_dialect().quote(
        config::QualifiedName{archive.schema, archive.name + "__" + dependent.name});
    const auto columns = session_.exec(
        "SELECT attname::text FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass($1) "
        "AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
        {c.table});
    for (int r = 0; r < columns.rows(); ++r)
      c.columns.push_back(pg_dialect().quote(columns.text(r, 0)));
    for (const auto& column : dependent.columns) c.fk_columns.push_back(pg_dialect().quote(column));
    for (const auto& column : dependent.parent_columns) {
      c.parent_columns.push_back(pg_dialect().quote(column));
    }
    if (dependent.via >= 0) {
      for (std::size_t k = 0; k < indexes.size(); ++k) {
        if (facts.dependents[indexes[k]].table ==
            facts.dependents[static_cast<std::size_t>(dependent.via)].table) {
          c.parent = static_cast<int>(k);
        }
      }
    }
    out.push_back(std::move(c));
  }
  return out;
}

void PgArchiveTable::begin_cycle(const std::string& cycle_id) {
  cycle_ = cycle_id;
  for (const auto& c : cascaded_archives()) {
    session_.exec("CREATE TABLE IF NOT EXISTS " + c.archive + " (LIKE " + c.table +
                  ", archived_at timestamptz NOT NULL DEFAULT now(), cycle_id text NOT NULL)");
  }
}

config::QualifiedName PgArchiveTable::name() const {
  return config::parse_table_name(config_.archive_table, "archive table");
}

std::string PgArchiveTable::quoted_name(const CleanupConfig& config) {
  return pg_dialect().quote(config::parse_table_name(config.archive_table, "archive table"));
}

std::string PgArchiveTable::oid() {
  const auto rows =
      session_.exec("SELECT c.oid::text FROM pg_catalog.pg_class c WHERE c.oid = to_regclass($1)",
                    {pg_dialect().quote(name())});
  return rows.rows() == 0 ? "" : rows.text(0, 0);
}

ArchiveFacts PgArchiveTable::inspect_archive() {
  ArchiveFacts facts;
  facts.name = name().display();
  const std::string table = oid();
  facts.exists = !table.empty();
  if (!facts.exists) return facts;
  facts.is_cleaned_table = table == catalog_.pending_oid || table == catalog_.users_oid;
  const auto present = relation_columns(session_, table);
  const std::set<std::string> have(present.begin(), present.end());
  std::vector<std::string> needed = {"archived_at", "cycle_id", "reason"};
  for (const auto& column : catalog_.pending_columns) needed.push_back(column.name);
  for (const auto& column : needed) {
    if (!have.count(column)) facts.missing_columns.push_back(column);
  }
  return facts;
}

void PgArchiveTable::create() {
  const auto archive = name();
  const std::string pending = pg_dialect().quote(names_.pending);
  session_.exec("CREATE TABLE IF NOT EXISTS " + pg_dialect().quote(archive) + " (LIKE " + pending +
                ", archived_at timestamptz NOT NULL DEFAULT now(), cycle_id text NOT NULL, "
                "reason text NOT NULL)");
  for (const char* column : {"archived_at", "cycle_id"}) {
    session_.exec("CREATE INDEX IF NOT EXISTS " +
                  pg_dialect().quote(archive.name.substr(0, 40) + "_" + column + "_idx") + " ON " +
                  pg_dialect().quote(archive) + " (" + column + ")");
  }
}

std::int64_t PgArchiveTable::purge(std::chrono::milliseconds older_than, std::int64_t batch_rows) {
  if (oid().empty()) return 0;
  return sql::purge_archived(executor_, pg_dialect().quote(name()), older_than, batch_rows);
}

std::vector<UniqueIndex> PgArchiveTable::unique_indexes() {
  return unique_indexes_of(catalog_.pending_oid);
}

std::vector<UniqueIndex> PgArchiveTable::unique_indexes_of(const std::string& table_oid) {
  // Plain-column unique indexes (constraints by their constraint's name), primary key first;
  // the key columns only (not INCLUDE).
  const auto rows = session_.exec(
      "SELECT coalesce(c.conname, i.relname)::text, a.attname::text "
      "FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid "
      "LEFT JOIN pg_catalog.pg_constraint c ON c.conindid = x.indexrelid "
      "AND c.conrelid = x.indrelid AND c.contype IN ('p', 'u') "
      "CROSS JOIN LATERAL unnest(x.indkey::int2[]) WITH ORDINALITY k(attnum, n) "
      "JOIN pg_catalog.pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum "
      "WHERE x.indrelid = $1::oid AND x.indisunique AND x.indpred IS NULL "
      "AND x.indexprs IS NULL AND k.n <= x.indnkeyatts "
      "ORDER BY x.indisprimary DESC, 1, k.n",
      {table_oid});
  std::vector<UniqueIndex> indexes;
  for (int r = 0; r < rows.rows(); ++r) {
    if (indexes.empty() || indexes.back().name != rows.text(r, 0)) {
      indexes.push_back({rows.text(r, 0), {}});
    }
    indexes.back().columns.push_back(rows.text(r, 1));
  }
  return indexes;
}

RestoreResult PgArchiveTable::restore(const RestoreRequest& request, bool dry_run) {
  const sql::RestoreTables tables{pg_dialect().quote(name()),
                                  pg_dialect().quote(names_.pending),
                                  names_.key,
                                  names_.email,
                                  config_.pending_key,
                                  config_.email_column,
                                  unique_indexes(),
                                  false};
  // The newest archived copy of each key, inserted unless a pending row has its key or email
  // (or another unique constraint refuses it), then removed from the archive: one statement.
  const auto put_rows_back = [&]() -> std::int64_t {
    std::string columns;
    std::string values;
    for (const auto& column : catalog_.pending_columns) {
      if (column.generated) continue;
      columns += (columns.empty() ? "" : ", ") + pg_dialect().quote(column.name);
      values += (values.empty() ? "" : ", ") + std::string("(s.bc_row).") +
                pg_dialect().quote(column.name);
    }
    sql::Builder b(executor_.dialect());
    b.sql("WITH src AS (SELECT DISTINCT ON (a." + tables.key +
          ") a.ctid AS bc_aid, a AS bc_row FROM " + tables.archive + " a WHERE ");
    sql::append_restore_filter(b, request);
    b.sql(" ORDER BY a." + tables.key + ", a.archived_at DESC), ins AS (INSERT INTO " +
          tables.pending + " (" + columns + ")" + executor_.dialect().insert_identity_override() +
          " SELECT " + values + " FROM src s WHERE NOT ");
    sql::append_key_conflict(b, tables, "(s.bc_row)");
    b.sql(" AND NOT ");
    sql::append_email_conflict(b, tables, "(s.bc_row)");
    b.sql(" ON CONFLICT DO NOTHING RETURNING " + tables.key + "::text AS k) DELETE FROM " +
          tables.archive + " a USING src s, ins WHERE a.ctid = s.bc_aid AND (s.bc_row)." +
          tables.key + "::text = ins.k");
    return executor_.run(b.build()).affected;
  };
  std::vector<sql::CascadedTable> cascaded;
  const auto archives = cascaded_archives();
  const auto indexes = cascaded_indexes(catalog_.facts);
  for (std::size_t k = 0; k < archives.size(); ++k) {
    const auto& c = archives[k];
    const auto& dependent = catalog_.facts.dependents[indexes[k]];
    if (session_.exec("SELECT to_regclass($1) IS NOT NULL", {c.archive}).text(0, 0) != "t") {
      continue;
    }
    sql::CascadedTable table;
    table.name = dependent.name;
    table.table = c.table;
    table.archive = c.archive;
    const auto columns = session_.exec(
        "SELECT attname::text FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass($1) "
        "AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
        {c.table});
    for (int r = 0; r < columns.rows(); ++r) table.columns.push_back(columns.text(r, 0));
    table.fk_columns = dependent.columns;
    table.parent_columns = dependent.parent_columns;
    table.parent =
        c.parent < 0 ? tables.pending : archives[static_cast<std::size_t>(c.parent)].table;
    table.parent_archive =
        c.parent < 0 ? tables.archive : archives[static_cast<std::size_t>(c.parent)].archive;
    const auto oid = session_.exec("SELECT to_regclass($1)::oid::text", {c.table}).text(0, 0);
    table.unique_indexes = unique_indexes_of(oid);
    cascaded.push_back(std::move(table));
  }
  return sql::restore_archived(executor_, tables, request, dry_run, put_rows_back, cascaded);
}

}  // namespace batch_cleanup::store::postgres
