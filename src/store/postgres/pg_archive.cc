#include "store/postgres/pg_archive.h"

#include <set>

#include "batch_cleanup/errors.h"
#include "store/postgres/pg_dialect.h"
#include "store/sql/restore_sql.h"
#include "store/sql/table_sql.h"

namespace batch_cleanup::store::postgres {

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
      {catalog_.pending_oid});
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
  return sql::restore_archived(executor_, tables, request, dry_run, put_rows_back);
}

}  // namespace batch_cleanup::store::postgres
