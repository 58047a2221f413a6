#include "integration/own_server.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>

namespace batch_cleanup::testing {

std::string pg(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb((url + " connect_timeout=3").c_str());
  std::string out;
  if (PQstatus(conn) == CONNECTION_OK) {
    PGresult* result = PQexec(conn, sql.c_str());
    const auto status = PQresultStatus(result);
    if (status == PGRES_TUPLES_OK && PQntuples(result) > 0) out = PQgetvalue(result, 0, 0);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      ADD_FAILURE() << "postgres: " << PQresultErrorMessage(result) << " in: " << sql;
    }
    PQclear(result);
  }
  PQfinish(conn);
  return out;
}

int shared_server_port() {
  const char* url = std::getenv("BATCH_CLEANUP_TEST_PG_URL");
  std::smatch match;
  const std::string text = url != nullptr ? url : "";
  if (std::regex_search(text, match, std::regex(R"(port=(\d+))"))) return std::stoi(match[1]);
  return 54329;
}

OwnServer::OwnServer(int port) : port_(port) {
  dir_ = (std::filesystem::temp_directory_path() /
          fmt::format("bc_own_pg_{}_{:x}", port, std::random_device{}()))
             .string();
}

OwnServer::~OwnServer() { script("stop " + dir_); }

void OwnServer::start() { ASSERT_EQ(script(fmt::format("start {} {}", dir_, port_)), 0); }

void OwnServer::standby_of(const OwnServer& primary, const std::string& settings) {
  ASSERT_EQ(script(fmt::format("standby {} {} {} '{}'", dir_, port_, primary.port_, settings)), 0);
}

void OwnServer::restart(const std::string& mode) {
  ASSERT_EQ(script("restart " + dir_ + " " + mode), 0);
}

void OwnServer::halt(const std::string& mode) { ASSERT_EQ(script("halt " + dir_ + " " + mode), 0); }

void OwnServer::promote() { ASSERT_EQ(script("promote " + dir_), 0); }

void OwnServer::require_tls_and_password() { ASSERT_EQ(script("tls-password " + dir_), 0); }

std::string OwnServer::socket_url(const std::string& dbname) const {
  return fmt::format("host={} port={} user=postgres dbname={}", dir_, port_, dbname);
}

std::string OwnServer::url(const std::string& dbname) const {
  return fmt::format("host=127.0.0.1 port={} user=postgres dbname={}", port_, dbname);
}

std::string OwnServer::log() const {
  std::ifstream in(dir_ + "/server.log");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

int OwnServer::script(const std::string& arguments) {
  const std::string command = std::string(BATCH_CLEANUP_SOURCE_DIR) +
                              "/scripts/pg_test_server.sh " + arguments + " >/dev/null";
  return std::system(command.c_str());
}

void create_app_database(const OwnServer& server, long long matching) {
  pg(server.url(), "CREATE DATABASE app");
  const std::string app = server.url("app");
  pg(app,
     "CREATE TABLE core_mstr_one_qlick_users_tbl (user_id TEXT PRIMARY KEY, email TEXT UNIQUE);"
     "CREATE TABLE core_mstr_one_qlick_pending_users_tbl (pending_user_id TEXT PRIMARY KEY, "
     "email TEXT UNIQUE);"
     "CREATE FUNCTION slow_down() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM "
     "pg_sleep(0.15); RETURN NULL; END $$;"
     "CREATE TRIGGER slow_down AFTER DELETE ON core_mstr_one_qlick_pending_users_tbl FOR EACH "
     "STATEMENT EXECUTE FUNCTION slow_down()");
  pg(app, fmt::format("INSERT INTO core_mstr_one_qlick_users_tbl SELECT 'u' || i, 'user' || i || "
                      "'@example.com' FROM generate_series(0, {}) i",
                      matching * 4));
  pg(app, fmt::format("INSERT INTO core_mstr_one_qlick_pending_users_tbl SELECT 'p' || i, 'user' "
                      "|| i || '@example.com' FROM generate_series(0, {}) i",
                      matching - 1));
}

long long pending_count(const std::string& url) {
  const std::string text = pg(url, "SELECT count(*) FROM core_mstr_one_qlick_pending_users_tbl");
  return text.empty() ? -1 : std::stoll(text);
}

}  // namespace batch_cleanup::testing
