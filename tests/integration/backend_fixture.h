// A fresh, real database per test: a SQLite file in a temporary directory, or a new database
// on the PostgreSQL server named by BATCH_CLEANUP_TEST_PG_URL or the MariaDB server named by
// BATCH_CLEANUP_TEST_MARIADB_URL (both started by scripts/test.sh).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "integration/process.h"

namespace batch_cleanup::testing {

enum class TestBackend { kSqlite, kPostgres, kMariadb };

std::string backend_name(TestBackend backend);

// Test names read "…/sqlite" and "…/postgresql" rather than a byte dump.
inline void PrintTo(TestBackend backend, std::ostream* os) { *os << backend_name(backend); }

using Row = std::vector<std::optional<std::string>>;

class TestDatabase {
 public:
  virtual ~TestDatabase() = default;
  virtual TestBackend backend() const = 0;
  // The URL to hand to batch_cleanup.
  virtual std::string url() const = 0;
  // Runs test-setup SQL (one or more statements). Throws std::runtime_error.
  virtual void exec(const std::string& sql) = 0;
  // Runs a query and returns every row as text (NULL = nullopt).
  virtual std::vector<Row> query(const std::string& sql) = 0;
  // A second, independent connection (another "application session").
  virtual std::unique_ptr<TestDatabase> another_connection() = 0;

  bool is_postgres() const { return backend() == TestBackend::kPostgres; }
  bool is_mariadb() const { return backend() == TestBackend::kMariadb; }
  std::string scalar(const std::string& sql);
  long long count(const std::string& table);
  // The pending keys present now, sorted.
  std::set<std::string> keys(const std::string& table = "core_mstr_one_qlick_pending_users_tbl",
                             const std::string& key = "pending_user_id");
  // Every row of a table rendered as text, in key order: for "unchanged" checks.
  std::string dump(const std::string& table, const std::string& order_by);

  // The original schema, with TEXT keys; `users_email_index` false drops the UNIQUE on
  // users.email (so there is no index to use).
  void create_original_schema(bool users_email_index = true);
  // Inserts users u0..u{n-1} with emails user<i>@example.com.
  void insert_users(long long first, long long count);
  // PostgreSQL: every DELETE statement on the pending table takes `seconds` longer (a
  // statement trigger that sleeps), to keep a run going while a test acts on it. MariaDB has
  // row triggers only: every deleted row takes `seconds` longer. Dropped as slow_down.
  void slow_pending_deletes(double seconds);
  // Inserts pending rows p<i> with emails user<i>@example.com for i in [first, first+count).
  void insert_pending(long long first, long long count, const std::string& key_prefix = "p");
};

// Creates a fresh database. For PostgreSQL, GTEST_SKIPs when no server is configured unless
// BATCH_CLEANUP_REQUIRE_PG=1 (as in CI), where it fails instead; for MariaDB the same with
// BATCH_CLEANUP_TEST_MARIADB_URL and BATCH_CLEANUP_REQUIRE_MARIADB.
std::unique_ptr<TestDatabase> make_test_database(TestBackend backend);

// Whether a PostgreSQL server is configured for the tests.
bool postgres_available();

// The backends a suite runs on: SQLite and PostgreSQL, and MariaDB where the suite's features
// exist there.
inline auto all_backends() {
  return ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres, TestBackend::kMariadb);
}

// Parameterised fixture: every TEST_P runs on the backends the suite is instantiated with.
class BackendTest : public ::testing::TestWithParam<TestBackend> {
 protected:
  void SetUp() override;
  // Runs the batch_cleanup binary with `args` followed by --database-url of this test's database.
  ProcessResult run_on_db(std::vector<std::string> args) const;
  std::unique_ptr<TestDatabase> db_;
};

std::string backend_param_name(const ::testing::TestParamInfo<TestBackend>& info);

}  // namespace batch_cleanup::testing
