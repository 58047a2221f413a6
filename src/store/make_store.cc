#include <fmt/format.h>

#include <filesystem>

#include "batch_cleanup/errors.h"
#include "config/database_url.h"
#include "store/mysql/mysql_catalog.h"
#include "store/mysql/mysql_store.h"
#include "store/postgres/pg_capabilities.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_capabilities.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"

namespace batch_cleanup::store {

std::unique_ptr<Store> make_store(const CleanupConfig& config) {
  const auto target = config::parse_database_url(config::database_url_of(config));
  if (target.backend == config::Backend::kSqlite) {
    if (config.workers > 1) {
      throw ConfigError(fmt::format(
          "--workers {}: SQLite lets one connection write at a time, so more workers would only "
          "wait for each other. HINT: use --workers 1 (the default) with SQLite",
          config.workers));
    }
    return sqlite::make_sqlite_store(config, target);
  }
  if (target.backend == config::Backend::kMysql) return mysql::make_mysql_store(config, target);
  return postgres::make_postgres_store(config, target);
}

std::optional<std::string> lock_file_of(const config::DatabaseTarget& target) {
  if (target.backend != config::Backend::kSqlite) return std::nullopt;
  std::error_code error;
  const auto path = std::filesystem::weakly_canonical(target.sqlite_path, error);
  return error ? target.sqlite_path : path.string();
}

std::string backend_name(const config::DatabaseTarget& target) {
  switch (target.backend) {
    case config::Backend::kSqlite:
      return sqlite::kBackendName;
    case config::Backend::kMysql:
      return mysql::kBackendName;
    case config::Backend::kPostgres:
      break;
  }
  return postgres::kBackendName;
}

}  // namespace batch_cleanup::store
