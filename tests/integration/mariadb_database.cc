#include "integration/mariadb_database.h"

#include <mysql.h>

#include <cstdlib>
#include <stdexcept>

#include "config/mysql_url.h"

namespace batch_cleanup::testing {
namespace {

class MariadbDatabase final : public TestDatabase {
 public:
  MariadbDatabase(std::string admin_url, std::string dbname, bool owner)
      : admin_url_(std::move(admin_url)), dbname_(std::move(dbname)), owner_(owner) {
    if (owner_) {
      MYSQL* admin = open(config::parse_mysql_url(admin_url_).database);
      run(admin, "CREATE DATABASE `" + dbname_ + "` CHARACTER SET utf8mb4");
      mysql_close(admin);
    }
    conn_ = open(dbname_);
  }
  ~MariadbDatabase() override {
    mysql_close(conn_);
    if (owner_) {
      try {
        MYSQL* admin = open(config::parse_mysql_url(admin_url_).database);
        run(admin, "DROP DATABASE IF EXISTS `" + dbname_ + "`");
        mysql_close(admin);
      } catch (...) {
      }
    }
  }
  TestBackend backend() const override { return TestBackend::kMariadb; }
  std::string url() const override {
    return admin_url_.substr(0, admin_url_.rfind('/') + 1) + dbname_;
  }
  void exec(const std::string& sql) override { run(conn_, sql); }
  std::vector<Row> query(const std::string& sql) override {
    std::vector<Row> rows;
    run(conn_, sql, &rows);
    return rows;
  }
  std::unique_ptr<TestDatabase> another_connection() override {
    return std::make_unique<MariadbDatabase>(admin_url_, dbname_, false);
  }

 private:
  MYSQL* open(const std::string& database) const {
    const auto target = config::parse_mysql_url(admin_url_);
    MYSQL* handle = mysql_init(nullptr);
    mysql_optionsv(handle, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (mysql_real_connect(handle, target.host.c_str(), target.user.c_str(),
                           target.password.c_str(), database.c_str(), target.port, nullptr,
                           CLIENT_MULTI_STATEMENTS) == nullptr) {
      const std::string error = mysql_error(handle);
      mysql_close(handle);
      throw std::runtime_error("mariadb: " + error);
    }
    // || concatenates, as in the shared test SQL (and in batch_cleanup's own sessions).
    run(handle, "SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',PIPES_AS_CONCAT')");
    return handle;
  }

  // Runs one or more statements; the rows of the last result set go to `rows`.
  static void run(MYSQL* handle, const std::string& sql, std::vector<Row>* rows = nullptr) {
    if (mysql_real_query(handle, sql.data(), static_cast<unsigned long>(sql.size())) != 0) {
      throw std::runtime_error(std::string("mariadb: ") + mysql_error(handle) + " in: " + sql);
    }
    while (true) {
      MYSQL_RES* result = mysql_store_result(handle);
      if (result != nullptr) {
        if (rows != nullptr) rows->clear();
        const unsigned columns = mysql_num_fields(result);
        while (MYSQL_ROW row = mysql_fetch_row(result)) {
          const unsigned long* lengths = mysql_fetch_lengths(result);
          Row out;
          for (unsigned c = 0; c < columns; ++c) {
            if (row[c] == nullptr) {
              out.push_back(std::nullopt);
            } else {
              out.push_back(std::string(row[c], lengths[c]));
            }
          }
          if (rows != nullptr) rows->push_back(std::move(out));
        }
        mysql_free_result(result);
      } else if (mysql_field_count(handle) != 0) {
        throw std::runtime_error(std::string("mariadb: ") + mysql_error(handle) + " in: " + sql);
      }
      const int next = mysql_next_result(handle);
      if (next > 0) {
        throw std::runtime_error(std::string("mariadb: ") + mysql_error(handle) + " in: " + sql);
      }
      if (next < 0) break;
    }
  }

  std::string admin_url_;
  std::string dbname_;
  bool owner_;
  MYSQL* conn_ = nullptr;
};

}  // namespace

std::unique_ptr<TestDatabase> make_mariadb_database(const std::string& admin_url,
                                                    const std::string& dbname) {
  return std::make_unique<MariadbDatabase>(admin_url, dbname, true);
}

bool mariadb_available() {
  const char* url = std::getenv("BATCH_CLEANUP_TEST_MARIADB_URL");
  return url != nullptr && *url != '\0';
}

}  // namespace batch_cleanup::testing
