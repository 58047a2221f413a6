// The PostgreSQL store (libpq): one session, the catalog facts, and the roles built on them.
#pragma once

#include <memory>

#include "batch_cleanup/config.h"
#include "config/database_url.h"
#include "store/store.h"

namespace batch_cleanup::store::postgres {

std::unique_ptr<Store> make_postgres_store(const CleanupConfig& config,
                                           const config::DatabaseTarget& target);

}  // namespace batch_cleanup::store::postgres
