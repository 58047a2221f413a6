// The MySQL/MariaDB store (MariaDB Connector/C): one session, the catalog facts, and the roles
// built on them. What it does not do yet is refused when the store is made (ConfigError, exit 2).
#pragma once

#include <memory>

#include "batch_cleanup/config.h"
#include "config/database_url.h"
#include "store/store.h"

namespace batch_cleanup::store::mysql {

// Throws ConfigError for a configuration this store cannot run yet.
std::unique_ptr<Store> make_mysql_store(const CleanupConfig& config,
                                        const config::DatabaseTarget& target);

}  // namespace batch_cleanup::store::mysql
