// A fresh database per test on the MariaDB server named by BATCH_CLEANUP_TEST_MARIADB_URL
// (started by scripts/test.sh with scripts/mariadb_test_server.sh), reached through libmariadb.
#pragma once

#include <memory>
#include <string>

#include "integration/backend_fixture.h"

namespace batch_cleanup::testing {

// Creates database `dbname` on the server of `admin_url` (a mysql:// URL) and connects to it;
// drops it when destroyed. Throws std::runtime_error.
std::unique_ptr<TestDatabase> make_mariadb_database(const std::string& admin_url,
                                                    const std::string& dbname);

// Connects to the existing database `dbname` on the server of `admin_url` (another node of a
// Galera cluster, say); does not drop it. Throws std::runtime_error.
std::unique_ptr<TestDatabase> connect_mariadb_database(const std::string& admin_url,
                                                       const std::string& dbname);

// Whether a MariaDB server is configured for the tests.
bool mariadb_available();

}  // namespace batch_cleanup::testing
