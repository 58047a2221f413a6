// The PostgreSQL archive table: created LIKE the pending table; batches insert into it in their
// DELETE statement (pg_batch_sql.cc); restore puts rows back in one statement.
#pragma once

#include "batch_cleanup/config.h"
#include "store/archive_table.h"
#include "store/postgres/pg_batch_sql.h"
#include "store/postgres/pg_batches.h"
#include "store/postgres/pg_catalog.h"
#include "store/postgres/pg_executor.h"

namespace batch_cleanup::store::postgres {

class PgArchiveTable final : public ArchiveTableOn<PgSession, PgExecutor, PgCatalog> {
 public:
  // The archive table's name as the batches' statements write it.
  static std::string quoted_name(const CleanupConfig& config);

  // `catalog` is the store's. Batches archive when their plan says so (BatchPlan::archive, the
  // archive CTE of pg_batch_sql.cc); begin_cycle() names the cycle they archive under, in
  // `cycle` (PgBatchSetup::archive_cycle, a value their statements bind).
  using ArchiveTableOn::ArchiveTableOn;

  ArchiveFacts inspect_archive() override;
  void create() override;
  // Also creates the archive tables of the cascaded tables, "<archive>__<table>", on first use.
  void begin_cycle(const std::string& cycle_id) override;
  // The tables a cascade from the pending table deletes rows of (CASCADE dependents, each
  // once, parents first), with their archive tables, for the batches' statement.
  std::vector<PgCascadedArchive> cascaded_archives();
  std::int64_t purge(std::chrono::milliseconds older_than, std::int64_t batch_rows) override;
  RestoreResult restore(const RestoreRequest& request, bool dry_run) override;

 private:
  config::QualifiedName name() const;
  std::string oid();                          // "" when the table does not exist
  std::vector<UniqueIndex> unique_indexes();  // of the pending table
  std::vector<UniqueIndex> unique_indexes_of(const std::string& table_oid);
};

}  // namespace batch_cleanup::store::postgres
