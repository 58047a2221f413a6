// The MySQL/MariaDB archive table: created with the pending table's column types (no unique
// index: a key may be archived more than once; plain indexes on archived_at, cycle_id and the
// key); batches copy the rows they delete into it in the same transaction (mysql_batches.cc,
// archive_and_delete); restore puts back the newest copy of each key, by chunks of keys.
#pragma once

#include <array>
#include <span>
#include <string>
#include <vector>

#include "batch_cleanup/config.h"
#include "store/archive_table.h"
#include "store/mysql/mysql_catalog.h"
#include "store/mysql/mysql_session.h"
#include "store/sql/restore_sql.h"
#include "store/table_names.h"

namespace batch_cleanup::store::mysql {

class MysqlArchiveTable final : public ArchiveTable {
 public:
  // `catalog` is the store's; begin_cycle() writes the cycle into `cycle`, which the batches
  // read (MysqlBatchSetup::archive_cycle).
  MysqlArchiveTable(MysqlSession& session, sql::Executor& executor, const CleanupConfig& config,
                    const TableNames& names, const MysqlCatalog& catalog, std::string& cycle)
      : session_(session),
        executor_(executor),
        config_(config),
        names_(names),
        catalog_(catalog),
        cycle_(cycle) {}

  // The archive table's name as the batches' statements write it.
  static std::string quoted_name(const CleanupConfig& config);

  ArchiveFacts inspect_archive() override;
  void create() override;
  void begin_cycle(const std::string& cycle_id) override;
  std::int64_t purge(std::chrono::milliseconds older_than, std::int64_t batch_rows) override;
  RestoreResult restore(const RestoreRequest& request, bool dry_run) override;

 private:
  config::QualifiedName name() const;
  std::string schema();  // the archive's database: as configured, else the connection's
  bool exists();
  std::vector<UniqueIndex> unique_indexes();  // of the pending table

  // An archive row as restore names it: key, cycle_id, archived_at (as text).
  using ArchiveRow = std::array<std::string, 3>;
  // "<alias>key IN (...) AND (<alias>key, <alias>cycle_id, <alias>archived_at) IN (...)".
  static void append_rows(sql::Builder& b, const sql::RestoreTables& tables,
                          const std::string& alias, std::span<const ArchiveRow> rows);
  std::string insertable_columns() const;  // the pending table's, generated ones left out
  // Puts the rows of `chunk` back (those free of key and email conflicts); how many.
  std::int64_t put_back_chunk(const sql::RestoreTables& tables, std::span<const ArchiveRow> chunk);
  std::int64_t put_back_one_by_one(const sql::RestoreTables& tables,
                                   std::span<const ArchiveRow> rows);

  MysqlSession& session_;
  sql::Executor& executor_;
  const CleanupConfig& config_;
  const TableNames& names_;
  const MysqlCatalog& catalog_;
  std::string& cycle_;
};

// Throws ConfigError when a foreign key deletes rows of another table with the pending table's
// (ON DELETE CASCADE): their archive is not built on MySQL/MariaDB yet. `what` names the option.
void refuse_cascades_with_archive(MysqlSession& session, const MysqlCatalog& catalog,
                                  const TableNames& names, const std::string& what);

}  // namespace batch_cleanup::store::mysql
