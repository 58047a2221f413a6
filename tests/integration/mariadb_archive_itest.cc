// The archive on MySQL/MariaDB, beyond the shared archive and restore suites: MySQL has no
// DELETE ... RETURNING, so a batch copies its locked rows into the archive and deletes exactly
// those keys in one transaction. Checked in the database: the rows deleted are the rows
// archived, whole and as they were when deleted, while an application writes to them, and the
// archive file names exactly those rows; a cascading foreign key is refused (exit 2). kill -9
// in the middle of an archiving cycle is the shared Kill9Test, instantiated on MariaDB.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "integration/backend_fixture.h"
#include "integration/json_report.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";

class MariadbArchiveTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (!db_) return;
    db_->create_original_schema();
    file_ = (std::filesystem::temp_directory_path() /
             ("bc_mdb_archive_" + std::to_string(::getpid()) + "_" +
              std::to_string(std::random_device{}()) + ".ndjson"))
                .string();
  }
  void TearDown() override {
    if (!file_.empty()) std::filesystem::remove(file_);
  }
  ProcessResult run(std::vector<std::string> args) { return run_on_db(std::move(args)); }

  // The keys the archive file says were deleted (the rows of batches that committed), each
  // with its "row" object.
  std::map<std::string, nlohmann::json> deleted_in_file() const {
    std::map<std::string, std::vector<nlohmann::json>> rows;  // by batch
    std::set<std::string> committed;
    std::ifstream in(file_);
    std::string line;
    while (std::getline(in, line)) {
      const auto object = nlohmann::json::parse(line);
      const std::string type = object["type"];
      if (type == "row") rows[object["batch"]].push_back(object);
      if (type == "commit") committed.insert(object["batch"].get<std::string>());
    }
    std::map<std::string, nlohmann::json> out;
    for (const auto& [batch, lines] : rows) {
      if (committed.count(batch) == 0) continue;  // rolled back
      for (const auto& row : lines) {
        const std::string key = row["key"];
        EXPECT_EQ(out.count(key), 0u) << "key " << key << " deleted twice in the file";
        out[key] = row["row"];
      }
    }
    return out;
  }

  std::set<std::string> archived_keys() {
    EXPECT_EQ(db_->scalar("SELECT count(*) - count(DISTINCT pending_user_id) FROM bc_archive"), "0")
        << "a key archived twice";
    return db_->keys("bc_archive");
  }

  std::string file_;
};

// An application updates the rows the cycle is about to take, inserts matching rows into the
// walked range and deletes rows while an archiving cycle runs: every row the cycle deleted is
// in the archive once, with the values it had when deleted (the application's last committed
// update), and in the archive file; no row is both archived and still pending. (Without the
// lock, FOR UPDATE, an update committed between the archive's INSERT and the DELETE would be
// lost from the archive: this test caught that in two runs out of two.)
TEST_P(MariadbArchiveTest, ConcurrentWriterRowsDeletedAreExactlyTheRowsArchived) {
  db_->insert_users(0, 4000);
  db_->insert_users(10000, 3000);  // emails the application's new sign-ups take
  db_->insert_pending(0, 6000);    // p0..p3999 match
  std::set<std::string> all = db_->keys();
  auto app = db_->another_connection();
  ChildProcess cycle(
      {tool_binary(), "--run-once", "--output", "json", "--batch-size", "50", "--sleep", "2ms",
       "--archive-table", "bc_archive", "--archive-file", file_, "--database-url", db_->url()},
      {});
  std::mt19937 random{7};
  std::map<std::string, std::string> last_phone;  // the application's last committed update
  std::set<std::string> app_deleted;
  int n = 0;
  while (cycle.current_out().find("\"deleted\"") == std::string::npos && n < 9000) {
    ++n;
    // Update the rows the cycle is about to take: the next 20 keys after the last archived.
    std::string progress;
    try {
      progress = app->scalar("SELECT coalesce(max(pending_user_id), '') FROM bc_archive");
    } catch (const std::runtime_error&) {
      // not created yet
    }
    const std::string phone = "app-" + std::to_string(n);
    app->exec("START TRANSACTION");
    app->exec(
        fmt::format("UPDATE {} SET phone = '{}' WHERE pending_user_id > '{}' ORDER BY "
                    "pending_user_id LIMIT 20",
                    kPending, phone, progress));
    const auto updated = app->query(
        fmt::format("SELECT pending_user_id FROM {} WHERE phone = '{}'", kPending, phone));
    app->exec("COMMIT");
    for (const auto& row : updated) last_phone[*row[0]] = phone;
    if (n % 3 == 0 && n / 3 < 3000) {
      // A new sign-up between walked keys ("p12" < "p12_q3" < "p120") whose email has a user.
      const std::string fresh = fmt::format("p{}_q{}", random() % 4000, n);
      app->exec(
          fmt::format("INSERT INTO {} (pending_user_id, email) VALUES ('{}', 'user{}@example.com')",
                      kPending, fresh, 10000 + n / 3));
      all.insert(fresh);
    }
    if (n % 7 == 0) {
      const std::string gone = "p" + std::to_string(random() % 6000);
      if (app->scalar(fmt::format("DELETE FROM {} WHERE pending_user_id = '{}'; SELECT "
                                  "ROW_COUNT()",
                                  kPending, gone)) == "1") {
        app_deleted.insert(gone);
        last_phone.erase(gone);
      }
    }
  }
  const auto result = cycle.wait(std::chrono::seconds(120));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = last_json_report(result);
  std::cerr << n << " application rounds during the cycle\n";
  EXPECT_GT(n, 20);

  const auto archived = archived_keys();
  const auto pending = db_->keys();
  EXPECT_EQ(report["deleted"].get<std::size_t>(), archived.size());
  EXPECT_EQ(report["archived"].get<std::size_t>(), archived.size());
  for (const auto& key : archived) EXPECT_EQ(pending.count(key), 0u) << key << " is in both";
  // Every key is pending, archived, or deleted by the application: nothing else went.
  std::set<std::string> accounted = pending;
  accounted.insert(archived.begin(), archived.end());
  accounted.insert(app_deleted.begin(), app_deleted.end());
  EXPECT_EQ(accounted, all);
  // Archived as deleted: the application's last committed phone, before the row went.
  int checked = 0;
  for (const auto& [key, phone] : last_phone) {
    if (archived.count(key) == 0) continue;
    EXPECT_EQ(db_->scalar("SELECT phone FROM bc_archive WHERE pending_user_id = '" + key + "'"),
              phone)
        << key;
    ++checked;
  }
  EXPECT_GT(checked, 0);
  // The archive file holds exactly the deleted rows, with the same values.
  const auto in_file = deleted_in_file();
  std::set<std::string> file_keys;
  for (const auto& [key, row] : in_file) file_keys.insert(key);
  EXPECT_EQ(file_keys, archived);
  for (const auto& row : db_->query("SELECT pending_user_id, phone FROM bc_archive WHERE phone "
                                    "IS NOT NULL")) {
    const auto found = in_file.find(*row[0]);
    ASSERT_NE(found, in_file.end());
    EXPECT_EQ(found->second["phone"], *row[1]) << *row[0];
  }
}

// Several policies: each row is archived with the reason its lock read (one INSERT per reason),
// and the per-policy counts agree with the archive.
TEST_P(MariadbArchiveTest, EachRowIsArchivedWithItsOwnReason) {
  db_->exec(
      "INSERT INTO core_mstr_one_qlick_users_tbl (user_id, email, phone) VALUES "
      "('u1', 'alice@example.com', '+15550001'), ('u2', 'bob@example.com', '+15550002')");
  db_->exec(fmt::format(
      "INSERT INTO {} (pending_user_id, email, phone) VALUES ('p_email', 'alice@example.com', "
      "'+19999999'), ('p_phone', 'someone@example.com', '+15550002'), ('p_both', "
      "'bob@example.com', '+15550001'), ('p_none', 'z@example.com', '+15550009')",
      kPending));
  const auto result = run({"--run-once", "--output", "json", "--match", "email,phone",
                           "--archive-table", "bc_archive", "--archive-file", file_});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = last_json_report(result);
  EXPECT_EQ(report["deleted_by_policy"]["email"], 2);
  EXPECT_EQ(report["deleted_by_policy"]["phone"], 1);
  std::map<std::string, std::string> reasons;
  for (const auto& row : db_->query("SELECT pending_user_id, reason FROM bc_archive")) {
    reasons[*row[0]] = *row[1];
  }
  EXPECT_EQ(reasons, (std::map<std::string, std::string>{{"p_email", "email exists in users"},
                                                         {"p_both", "email exists in users"},
                                                         {"p_phone", "phone exists in users"}}));
  EXPECT_EQ(db_->keys(), (std::set<std::string>{"p_none"}));
  const auto in_file = deleted_in_file();
  ASSERT_EQ(in_file.size(), 3u);
  EXPECT_EQ(in_file.at("p_phone")["phone"], "+15550002");
  EXPECT_EQ(in_file.at("p_phone")["email"], "someone@example.com");
}

// A foreign key that cascades deletes to another table: its rows would not be archived, so
// the archive table and the archive file are refused (exit 2), and nothing is deleted.
TEST_P(MariadbArchiveTest, ACascadingForeignKeyIsRefused) {
  db_->insert_users(0, 3);
  db_->insert_pending(0, 3);
  db_->exec(
      "CREATE TABLE otp_codes (id INT PRIMARY KEY, pending_id VARCHAR(191), CONSTRAINT "
      "otp_pending_fk FOREIGN KEY (pending_id) REFERENCES core_mstr_one_qlick_pending_users_tbl "
      "(pending_user_id) ON DELETE CASCADE); INSERT INTO otp_codes VALUES (1, 'p1')");
  for (const auto& option : {std::vector<std::string>{"--archive-table", "bc_archive"},
                             std::vector<std::string>{"--archive-file", file_}}) {
    std::vector<std::string> args{"--run-once"};
    args.insert(args.end(), option.begin(), option.end());
    const auto result = run(args);
    EXPECT_EQ(result.exit_code, 2) << result.err;
    // --archive-file alone: the engine refuses it first, from the walked foreign keys.
    if (option[0] == "--archive-file") {
      EXPECT_NE(result.err.find("--archive-file keeps the deleted " + std::string(kPending) +
                                " rows but not the rows that cascade with them (otp_codes("),
                std::string::npos)
          << result.err;
      continue;
    }
    EXPECT_NE(result.err.find(option[0] +
                              " with a foreign key that cascades deletes from the pending table "
                              "(otp_pending_fk of table otp_codes) is not supported on "
                              "MySQL/MariaDB yet"),
              std::string::npos)
        << result.err;
  }
  EXPECT_EQ(db_->count(kPending), 3);
  EXPECT_EQ(db_->count("otp_codes"), 1);
}

INSTANTIATE_TEST_SUITE_P(Mariadb, MariadbArchiveTest, ::testing::Values(TestBackend::kMariadb),
                         backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
