#include "integration/backend_fixture.h"

#include <fmt/format.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <stdexcept>

#include "integration/mariadb_database.h"

namespace batch_cleanup::testing {
namespace {

std::string random_suffix() {
  static std::mt19937_64 generator{std::random_device{}()};
  return fmt::format("{:010x}", generator() & 0xFFFFFFFFFFull);
}

class SqliteDatabase final : public TestDatabase {
 public:
  explicit SqliteDatabase(std::string path, bool owner = true)
      : path_(std::move(path)), owner_(owner) {
    if (sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
        SQLITE_OK) {
      throw std::runtime_error("cannot open " + path_);
    }
    sqlite3_busy_timeout(db_, 10000);
    exec("PRAGMA foreign_keys=ON");
  }
  ~SqliteDatabase() override {
    sqlite3_close(db_);
    if (owner_) std::filesystem::remove_all(std::filesystem::path(path_).parent_path());
  }
  TestBackend backend() const override { return TestBackend::kSqlite; }
  std::string url() const override { return "sqlite:" + path_; }
  const std::string& path() const { return path_; }
  void exec(const std::string& sql) override {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      std::string message = error ? error : "?";
      sqlite3_free(error);
      throw std::runtime_error("sqlite: " + message + " in: " + sql);
    }
  }
  std::vector<Row> query(const std::string& sql) override {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(db_) + " in: " + sql);
    }
    std::vector<Row> rows;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      Row row;
      for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
        if (sqlite3_column_type(stmt, c) == SQLITE_NULL) {
          row.push_back(std::nullopt);
        } else {
          row.push_back(std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, c))));
        }
      }
      rows.push_back(std::move(row));
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
    return rows;
  }
  std::unique_ptr<TestDatabase> another_connection() override {
    return std::make_unique<SqliteDatabase>(path_, false);
  }

 private:
  std::string path_;
  bool owner_;
  sqlite3* db_ = nullptr;
};

class PostgresDatabase final : public TestDatabase {
 public:
  PostgresDatabase(std::string admin_url, std::string dbname, bool owner)
      : admin_url_(std::move(admin_url)), dbname_(std::move(dbname)), owner_(owner) {
    if (owner_) admin_exec("CREATE DATABASE " + dbname_);
    conn_ = PQconnectdb(url().c_str());
    if (PQstatus(conn_) != CONNECTION_OK) {
      throw std::runtime_error(std::string("postgres: ") + PQerrorMessage(conn_));
    }
    exec("SET client_min_messages = warning");
  }
  ~PostgresDatabase() override {
    PQfinish(conn_);
    if (owner_) {
      try {
        admin_exec("DROP DATABASE IF EXISTS " + dbname_ + " WITH (FORCE)");
      } catch (...) {
      }
    }
  }
  TestBackend backend() const override { return TestBackend::kPostgres; }
  std::string url() const override {
    // Replace the database of the admin URL (key=value form: append dbname, later wins).
    return admin_url_ + " dbname=" + dbname_;
  }
  void exec(const std::string& sql) override {
    PGresult* r = PQexec(conn_, sql.c_str());
    const auto status = PQresultStatus(r);
    std::string error = PQresultErrorMessage(r);
    PQclear(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      throw std::runtime_error("postgres: " + error + " in: " + sql);
    }
  }
  std::vector<Row> query(const std::string& sql) override {
    PGresult* r = PQexec(conn_, sql.c_str());
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
      std::string error = PQresultErrorMessage(r);
      PQclear(r);
      throw std::runtime_error("postgres: " + error + " in: " + sql);
    }
    std::vector<Row> rows;
    for (int i = 0; i < PQntuples(r); ++i) {
      Row row;
      for (int c = 0; c < PQnfields(r); ++c) {
        if (PQgetisnull(r, i, c)) {
          row.push_back(std::nullopt);
        } else {
          row.push_back(std::string(PQgetvalue(r, i, c)));
        }
      }
      rows.push_back(std::move(row));
    }
    PQclear(r);
    return rows;
  }
  std::unique_ptr<TestDatabase> another_connection() override {
    return std::make_unique<PostgresDatabase>(admin_url_, dbname_, false);
  }

 private:
  void admin_exec(const std::string& sql) {
    PGconn* admin = PQconnectdb(admin_url_.c_str());
    if (PQstatus(admin) != CONNECTION_OK) {
      std::string error = PQerrorMessage(admin);
      PQfinish(admin);
      throw std::runtime_error("postgres admin: " + error);
    }
    PGresult* r = PQexec(admin, sql.c_str());
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    std::string error = PQresultErrorMessage(r);
    PQclear(r);
    PQfinish(admin);
    if (!ok) throw std::runtime_error("postgres admin: " + error);
  }

  std::string admin_url_;
  std::string dbname_;
  bool owner_;
  PGconn* conn_ = nullptr;
};

}  // namespace

std::string backend_name(TestBackend backend) {
  switch (backend) {
    case TestBackend::kSqlite:
      return "sqlite";
    case TestBackend::kMariadb:
      return "mysql";
    case TestBackend::kPostgres:
      break;
  }
  return "postgresql";
}

bool postgres_available() {
  const char* url = std::getenv("BATCH_CLEANUP_TEST_PG_URL");
  return url != nullptr && *url != '\0';
}

std::unique_ptr<TestDatabase> make_test_database(TestBackend backend) {
  if (backend == TestBackend::kSqlite) {
    const auto dir = std::filesystem::temp_directory_path() / ("bc_sqlite_" + random_suffix());
    std::filesystem::create_directories(dir);
    return std::make_unique<SqliteDatabase>((dir / "app.db").string());
  }
  if (backend == TestBackend::kMariadb) {
    return make_mariadb_database(std::getenv("BATCH_CLEANUP_TEST_MARIADB_URL"),
                                 "bc_test_" + random_suffix());
  }
  return std::make_unique<PostgresDatabase>(std::getenv("BATCH_CLEANUP_TEST_PG_URL"),
                                            "bc_test_" + random_suffix(), true);
}

void BackendTest::SetUp() {
  if (GetParam() == TestBackend::kPostgres && !postgres_available()) {
    const char* required = std::getenv("BATCH_CLEANUP_REQUIRE_PG");
    if (required != nullptr && std::string(required) == "1") {
      FAIL() << "BATCH_CLEANUP_TEST_PG_URL is not set but BATCH_CLEANUP_REQUIRE_PG=1";
    }
    GTEST_SKIP() << "no PostgreSQL server: set BATCH_CLEANUP_TEST_PG_URL (scripts/test.sh does)";
  }
  if (GetParam() == TestBackend::kMariadb && !mariadb_available()) {
    const char* required = std::getenv("BATCH_CLEANUP_REQUIRE_MARIADB");
    if (required != nullptr && std::string(required) == "1") {
      FAIL() << "BATCH_CLEANUP_TEST_MARIADB_URL is not set but BATCH_CLEANUP_REQUIRE_MARIADB=1";
    }
    GTEST_SKIP() << "no MariaDB server: set BATCH_CLEANUP_TEST_MARIADB_URL (scripts/test.sh does)";
  }
  db_ = make_test_database(GetParam());
}

ProcessResult BackendTest::run_on_db(std::vector<std::string> args) const {
  args.insert(args.end(), {"--database-url", db_->url()});
  return run_tool(args);
}

std::string backend_param_name(const ::testing::TestParamInfo<TestBackend>& info) {
  return backend_name(info.param);
}

std::string TestDatabase::scalar(const std::string& sql) {
  const auto rows = query(sql);
  if (rows.empty() || rows[0].empty() || !rows[0][0]) return "";
  return *rows[0][0];
}

long long TestDatabase::count(const std::string& table) {
  return std::stoll(scalar("SELECT count(*) FROM " + table));
}

std::set<std::string> TestDatabase::keys(const std::string& table, const std::string& key) {
  std::set<std::string> out;
  for (const auto& row : query("SELECT " + key + " FROM " + table))
    out.insert(row[0].value_or("<null>"));
  return out;
}

std::string TestDatabase::dump(const std::string& table, const std::string& order_by) {
  std::string out;
  for (const auto& row : query("SELECT * FROM " + table + " ORDER BY " + order_by)) {
    for (const auto& v : row) out += (v ? "'" + *v + "'" : "NULL") + ",";
    out += "\n";
  }
  return out;
}

void TestDatabase::create_original_schema(bool users_email_index) {
  if (is_mariadb()) {
    // MariaDB indexes no TEXT column without a prefix: VARCHAR, in the server's default
    // collation (utf8mb4_general_ci).
    exec(std::string("CREATE TABLE core_mstr_one_qlick_users_tbl (user_id VARCHAR(191) PRIMARY "
                     "KEY, email VARCHAR(191)") +
         (users_email_index ? " UNIQUE" : "") +
         ", phone VARCHAR(64), full_name TEXT);"
         "CREATE TABLE core_mstr_one_qlick_pending_users_tbl (pending_user_id VARCHAR(191) "
         "PRIMARY KEY, email VARCHAR(191) UNIQUE, phone VARCHAR(64), full_name TEXT)");
    return;
  }
  exec(std::string(
           "CREATE TABLE core_mstr_one_qlick_users_tbl (user_id TEXT PRIMARY KEY, email TEXT") +
       (users_email_index ? " UNIQUE" : "") +
       ", phone TEXT, full_name TEXT);"
       "CREATE TABLE core_mstr_one_qlick_pending_users_tbl (pending_user_id TEXT PRIMARY KEY, "
       "email TEXT UNIQUE, phone TEXT, full_name TEXT)");
}

void TestDatabase::insert_users(long long first, long long n) {
  if (is_mariadb()) {
    exec(fmt::format(
        "INSERT INTO core_mstr_one_qlick_users_tbl (user_id, email, full_name) SELECT "
        "concat('u', seq), concat('user', seq, '@example.com'), concat('User ', seq) FROM "
        "seq_{}_to_{}",
        first, first + n - 1));
  } else if (is_postgres()) {
    exec(
        fmt::format("INSERT INTO core_mstr_one_qlick_users_tbl (user_id, email, full_name) "
                    "SELECT 'u' || i, 'user' || i || '@example.com', 'User ' || i FROM "
                    "generate_series({}, {}) i",
                    first, first + n - 1));
  } else {
    exec(
        fmt::format("WITH RECURSIVE s(i) AS (SELECT {} UNION ALL SELECT i + 1 FROM s WHERE i < {}) "
                    "INSERT INTO core_mstr_one_qlick_users_tbl (user_id, email, full_name) "
                    "SELECT 'u' || i, 'user' || i || '@example.com', 'User ' || i FROM s",
                    first, first + n - 1));
  }
}

void TestDatabase::slow_pending_deletes(double seconds) {
  if (is_mariadb()) {
    exec(fmt::format(
        "CREATE TRIGGER slow_down AFTER DELETE ON core_mstr_one_qlick_pending_users_tbl FOR EACH "
        "ROW SET @slow_down = SLEEP({})",
        seconds));
    return;
  }
  exec(fmt::format(
      "CREATE OR REPLACE FUNCTION slow_down() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
      "PERFORM pg_sleep({}); RETURN NULL; END $$; CREATE TRIGGER slow_down AFTER DELETE ON "
      "core_mstr_one_qlick_pending_users_tbl FOR EACH STATEMENT EXECUTE FUNCTION slow_down()",
      seconds));
}

void TestDatabase::insert_pending(long long first, long long n, const std::string& key_prefix) {
  if (is_mariadb()) {
    exec(fmt::format(
        "INSERT INTO core_mstr_one_qlick_pending_users_tbl (pending_user_id, email, full_name) "
        "SELECT concat('{}', seq), concat('user', seq, '@example.com'), concat('Pending ', seq) "
        "FROM seq_{}_to_{}",
        key_prefix, first, first + n - 1));
  } else if (is_postgres()) {
    exec(fmt::format(
        "INSERT INTO core_mstr_one_qlick_pending_users_tbl (pending_user_id, email, full_name) "
        "SELECT '{}' || i, 'user' || i || '@example.com', 'Pending ' || i FROM generate_series({}, "
        "{}) i",
        key_prefix, first, first + n - 1));
  } else {
    exec(fmt::format(
        "WITH RECURSIVE s(i) AS (SELECT {} UNION ALL SELECT i + 1 FROM s WHERE i < {}) "
        "INSERT INTO core_mstr_one_qlick_pending_users_tbl (pending_user_id, email, full_name) "
        "SELECT '{}' || i, 'user' || i || '@example.com', 'Pending ' || i FROM s",
        first, first + n - 1, key_prefix));
  }
}

}  // namespace batch_cleanup::testing
