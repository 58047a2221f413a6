// The fixture of the deletion-policy tests (policy_itest.cc, policy_time_itest.cc): the original
// tables with a phone and a creation time, and the helpers the cases share.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "integration/backend_fixture.h"
#include "integration/json_report.h"
#include "integration/process.h"

namespace batch_cleanup::testing {

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";
constexpr const char* kUsers = "core_mstr_one_qlick_users_tbl";

// A UTC time `seconds` ago, as text both backends read ("YYYY-MM-DD HH:MM:SS+00:00").
inline std::string ago(long long seconds) {
  const std::time_t when = std::time(nullptr) - seconds;
  std::tm utc{};
  gmtime_r(&when, &utc);
  char text[40];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S+00:00", &utc);
  return text;
}

constexpr long long kMinute = 60;
constexpr long long kHour = 3600;
constexpr long long kDay = 86400;

class PolicyTest : public BackendTest {
 protected:
  // The original tables plus a phone column on both and a creation time on the pending one.
  void create_schema() {
    // MariaDB indexes no TEXT column without a prefix, and reads DATETIME as UTC.
    const bool mariadb = db_->is_mariadb();
    const std::string key_type = mariadb ? "VARCHAR(191)" : "TEXT";
    const std::string text_type = mariadb ? "VARCHAR(191)" : "TEXT";
    const std::string time_type =
        db_->is_postgres() ? "timestamptz" : (mariadb ? "DATETIME" : "TEXT");
    db_->exec(std::string("CREATE TABLE ") + kUsers + " (user_id " + key_type +
              " PRIMARY KEY, email " + text_type + ", phone " + text_type + ")");
    db_->exec(std::string("CREATE INDEX users_email_idx ON ") + kUsers + " (email)");
    db_->exec(std::string("CREATE INDEX users_phone_idx ON ") + kUsers + " (phone)");
    db_->exec(std::string("CREATE TABLE ") + kPending + " (pending_user_id " + key_type +
              " PRIMARY KEY, email " + text_type + ", phone " + text_type + ", created_at " +
              time_type + ")");
  }
  // MariaDB: the archive table is not built there yet.
  bool skip_archive() const { return db_->is_mariadb(); }
  void user(const std::string& id, const std::string& email, const std::string& phone = "") {
    db_->exec(std::string("INSERT INTO ") + kUsers + " (user_id, email, phone) VALUES ('" + id +
              "', " + literal(email) + ", " + literal(phone) + ")");
  }
  // created: seconds ago, or < 0 for NULL.
  void pending(const std::string& key, const std::string& email, long long created,
               const std::string& phone = "") {
    db_->exec(std::string("INSERT INTO ") + kPending +
              " (pending_user_id, email, phone, created_at) VALUES ('" + key + "', " +
              literal(email) + ", " + literal(phone) + ", " +
              (created < 0 ? std::string("NULL") : "'" + when(created) + "'") + ")");
  }
  // ago(seconds) as the pending table's created_at takes it (MariaDB's DATETIME: no offset).
  std::string when(long long seconds) const {
    const std::string text = ago(seconds);
    return db_->is_mariadb() ? text.substr(0, text.size() - 6) : text;
  }
  static std::string literal(const std::string& value) {
    if (value == "NULL") return "NULL";
    std::string out = "'";
    for (const char c : value) {
      out += c;
      if (c == '\'') out += '\'';
    }
    return out + "'";
  }
  ProcessResult run(std::vector<std::string> args) { return run_on_db(std::move(args)); }
  std::set<std::string> kept() { return db_->keys(kPending, "pending_user_id"); }
  // reason by key, from the archive table.
  std::map<std::string, std::string> archived_reasons(const std::string& table) {
    std::map<std::string, std::string> out;
    for (const auto& row : db_->query("SELECT pending_user_id, reason FROM " + table)) {
      out[*row[0]] = *row[1];
    }
    return out;
  }
};

}  // namespace batch_cleanup::testing
