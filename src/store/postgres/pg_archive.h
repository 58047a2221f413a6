// The PostgreSQL archive table: created LIKE the pending table; batches insert into it in their
// DELETE statement (pg_batch_sql.cc); restore puts rows back in one statement.
#pragma once

#include <functional>

#include "batch_cleanup/config.h"
#include "store/archive_table.h"
#include "store/postgres/pg_batches.h"
#include "store/postgres/pg_catalog.h"
#include "store/postgres/pg_executor.h"

namespace batch_cleanup::store::postgres {

class PgArchiveTable final : public ArchiveTable {
 public:
  // `catalog` and `setup` are the store's (begin_cycle() switches the batches' archive on);
  // `on_change` is called when the batches' statements must be built again.
  PgArchiveTable(PgSession& session, PgExecutor& executor, const CleanupConfig& config,
                 const TableNames& names, const PgCatalog& catalog, PgBatchSetup& setup,
                 std::function<void()> on_change)
      : session_(session),
        executor_(executor),
        config_(config),
        names_(names),
        catalog_(catalog),
        setup_(setup),
        on_change_(std::move(on_change)) {}

  ArchiveFacts inspect_archive() override;
  void create() override;
  void begin_cycle(const std::string& cycle_id) override;
  std::int64_t purge(std::chrono::milliseconds older_than, std::int64_t batch_rows) override;
  RestoreResult restore(const RestoreRequest& request, bool dry_run) override;

 private:
  config::QualifiedName name() const;
  std::string oid();  // "" when the table does not exist

  PgSession& session_;
  PgExecutor& executor_;
  const CleanupConfig& config_;
  const TableNames& names_;
  const PgCatalog& catalog_;
  PgBatchSetup& setup_;
  std::function<void()> on_change_;
};

}  // namespace batch_cleanup::store::postgres
