#include <cstdlib>

#include "config/database_url.h"
#include "store/cleanup_store.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace batch_cleanup::store {

std::unique_ptr<CleanupStore> make_store(const CleanupConfig& config) {
  std::string url = config.database_url;
  if (url.empty()) {
    const char* env = std::getenv("DATABASE_URL");
    if (env != nullptr) url = env;
  }
  const auto target = config::parse_database_url(url);
  if (target.backend == config::Backend::kSqlite) return make_sqlite_store(config, target);
  return make_postgres_store(config, target);
}

}  // namespace batch_cleanup::store
