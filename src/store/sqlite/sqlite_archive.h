// The SQLite archive table: created with the pending table's columns; a connection-local (TEMP)
// trigger copies every row this connection deletes from the pending table into it, inside the
// deleting statement, so a row is archived exactly when its deletion commits.
#pragma once

#include "batch_cleanup/config.h"
#include "store/archive_table.h"
#include "store/sql/predicate.h"
#include "store/sql/restore_sql.h"
#include "store/sqlite/sqlite_catalog.h"
#include "store/sqlite/sqlite_executor.h"

namespace batch_cleanup::store::sqlite {

class SqliteArchiveTable final : public ArchiveTable {
 public:
  // `catalog` and `predicate` are the store's (the trigger records each row's reason).
  SqliteArchiveTable(SqliteConnection& connection, SqliteExecutor& executor,
                     const CleanupConfig& config, const SqliteCatalog& catalog,
                     const sql::PredicateSpec& predicate)
      : connection_(connection),
        executor_(executor),
        config_(config),
        catalog_(catalog),
        predicate_(predicate) {}

  ArchiveFacts inspect_archive() override;
  void create() override;
  void begin_cycle(const std::string& cycle_id) override;
  std::int64_t purge(std::chrono::milliseconds older_than, std::int64_t batch_rows) override;
  RestoreResult restore(const RestoreRequest& request, bool dry_run) override;

  // The connection was opened again: its TEMP trigger is gone.
  void forget_trigger() { trigger_ready_ = false; }

 private:
  // The table's own name (SQLite triggers insert into unqualified names, so the archive lives
  // in the pending table's database).
  std::string bare_name() const;
  std::string quoted() const;  // "schema"."archive", by the SQLite dialect
  bool exists();
  std::vector<UniqueIndex> unique_indexes();  // of the pending table
  std::vector<UniqueIndex> unique_indexes_of(const std::string& schema, const std::string& table);
  // The tables a cascade deletes rows of (PreflightFacts::dependents, CASCADE): their archive
  // tables, "<archive>__<table>", created on first use beside the archive, and the TEMP
  // triggers that fill them.
  std::string dependent_archive(const DependentTable& dependent) const;
  std::vector<std::pair<std::string, std::string>> dependent_columns(
      const DependentTable& dependent);  // (name, declared type), generated ones left out
  void create_dependent_archives();
  void create_dependent_triggers();
  std::vector<sql::CascadedTable> restorable_dependents();  // those whose archive exists

  SqliteConnection& connection_;
  SqliteExecutor& executor_;
  const CleanupConfig& config_;
  const SqliteCatalog& catalog_;
  const sql::PredicateSpec& predicate_;
  bool trigger_ready_ = false;
};

}  // namespace batch_cleanup::store::sqlite
