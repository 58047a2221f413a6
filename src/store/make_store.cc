#include "config/database_url.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"

namespace batch_cleanup::store {

std::unique_ptr<Store> make_store(const CleanupConfig& config) {
  const auto target = config::parse_database_url(config::database_url_of(config));
  if (target.backend == config::Backend::kSqlite) {
    return sqlite::make_sqlite_store(config, target);
  }
  return postgres::make_postgres_store(config, target);
}

}  // namespace batch_cleanup::store
