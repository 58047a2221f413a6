// PostgreSQL implementation of CleanupStore (libpq).
#pragma once

#include <memory>

#include "batch_cleanup/config.h"
#include "config/database_url.h"
#include "store/cleanup_store.h"

namespace batch_cleanup::store {

std::unique_ptr<CleanupStore> make_postgres_store(const CleanupConfig& config,
                                                  const config::DatabaseTarget& target);

}  // namespace batch_cleanup::store
