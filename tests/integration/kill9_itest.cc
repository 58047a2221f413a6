// kill -9 at random points during large cycles, with the archive table and the archive file on:
// after every kill each original row is in exactly one of the pending table and the archive
// (no half-applied batch, nothing lost, nothing twice); the next run finishes the job; and the
// archive file, once reconciled, names exactly the archived rows, each once.
//
// BATCH_CLEANUP_KILL_ITERATIONS sets the number of kills (default 5, CI-sized);
// scripts/kill9_loop.sh runs it with 25.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "integration/backend_fixture.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

constexpr long long kUsers = 12000;
constexpr long long kPendingRows = 15000;  // p0..p11999 match

int iterations() {
  const char* text = std::getenv("BATCH_CLEANUP_KILL_ITERATIONS");
  return text != nullptr && *text != '\0' ? std::max(1, std::atoi(text)) : 5;
}

// Keys the archive file records as deleted: rows of batches with a commit line, or with a
// reconciled line that does not list them. Fails the test on a row of an unresolved batch.
std::multiset<std::string> deleted_per_file(const std::string& path, int& reconciled) {
  std::map<std::string, std::vector<std::string>> rows;
  std::map<std::string, std::set<std::string>> outcome_excluded;
  std::set<std::string> committed;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const auto object = nlohmann::json::parse(line, nullptr, false);
    if (!object.is_object()) continue;  // a torn line
    const std::string type = object["type"];
    const std::string batch = object["batch"];
    if (type == "row") rows[batch].push_back(object["key"]);
    if (type == "commit") committed.insert(batch);
    if (type == "reconciled") {
      ++reconciled;
      committed.insert(batch);
      for (const auto& key : object["rolled_back_keys"]) outcome_excluded[batch].insert(key);
    }
  }
  std::multiset<std::string> out;
  for (const auto& [batch, keys] : rows) {
    if (!committed.count(batch)) {
      ADD_FAILURE() << "batch " << batch << " has no outcome after a completed run";
      continue;
    }
    for (const auto& key : keys) {
      if (!outcome_excluded[batch].count(key)) out.insert(key);
    }
  }
  return out;
}

class Kill9Test : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (!db_) return;
    db_->create_original_schema();
    db_->insert_users(0, kUsers);
    db_->insert_pending(0, kPendingRows);
    dir_ = std::filesystem::temp_directory_path() /
           fmt::format("bc_kill9_{}_{}", ::getpid(), std::random_device{}());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  // A pause between batches stretches a run (120 batches) past the longest kill delay, so the
  // kills land while it runs however fast the machine is.
  std::vector<std::string> args(const std::string& archive_file) {
    return {tool_binary(),    "--run-once", "--batch-size",    "100",
            "--sleep",        "10ms",       "--archive-table", "bc_archive",
            "--archive-file", archive_file, "--database-url",  db_->url(),
            "--log-level",    "warning",    "--workers",       std::to_string(workers_)};
  }
  void random_kills();
  void expect_every_row_in_exactly_one_place(const std::string& when) {
    if (!table_exists("bc_archive")) {
      // Killed before its first cycle created the archive table: nothing was deleted yet.
      EXPECT_EQ(db_->count("core_mstr_one_qlick_pending_users_tbl"), kPendingRows) << when;
      return;
    }
    EXPECT_EQ(db_->scalar("SELECT count(*) FROM core_mstr_one_qlick_pending_users_tbl p JOIN "
                          "bc_archive a ON a.pending_user_id = p.pending_user_id"),
              "0")
        << when;
    EXPECT_EQ(db_->count("core_mstr_one_qlick_pending_users_tbl") + db_->count("bc_archive"),
              kPendingRows)
        << when;
    EXPECT_EQ(db_->scalar("SELECT count(*) FROM bc_archive a WHERE NOT EXISTS (SELECT 1 FROM "
                          "core_mstr_one_qlick_users_tbl u WHERE u.email = a.email)"),
              "0")
        << when;
  }
  bool table_exists(const std::string& table) {
    if (db_->is_postgres())
      return db_->scalar("SELECT to_regclass('" + table + "') IS NULL") == "f";
    return db_->scalar(db_->is_mariadb() ? "SELECT count(*) FROM information_schema.tables WHERE "
                                           "table_schema = database() AND table_name = '" +
                                               table + "'"
                                         : "SELECT count(*) FROM sqlite_master WHERE name = '" +
                                               table + "'") != "0";
  }
  // MariaDB: the killed instance's lease would expire only after --lease-ttl; let the next run
  // take it at once (a PostgreSQL lease is taken over when its holder's server process is gone,
  // SQLite's flock goes with the process).
  void expire_dead_lease() {
    if (db_->is_mariadb() && table_exists("batch_cleanup_leases")) {
      db_->exec("UPDATE batch_cleanup_leases SET expires_at = utc_timestamp(6)");
    }
  }
  std::filesystem::path dir_;
  int workers_ = 1;
};

TEST_P(Kill9Test, RandomKillsLeaveNoHalfBatchAndTheNextRunFinishes) { random_kills(); }

// The same with two workers (PostgreSQL): each worker's batches are whole or absent, and the
// archive file they share holds each deleted row once.
TEST_P(Kill9Test, RandomKillsOfTwoWorkersLeaveNoHalfBatch) {
  if (!db_->is_postgres()) GTEST_SKIP() << "SQLite has one writer; MySQL/MariaDB --workers 1";
  workers_ = 2;
  random_kills();
}

void Kill9Test::random_kills() {
  std::mt19937 random{std::random_device{}()};
  std::uniform_int_distribution<int> delay_ms(40, 900);
  const int total = iterations();
  int epoch = 0;
  int kills = 0;
  int killed_mid_run = 0;  // the process was still running when SIGKILL came
  int reconciled = 0;      // batches the next run had to reconcile in the archive file
  while (kills < total) {
    const std::string file = (dir_ / fmt::format("archive_{}.ndjson", epoch)).string();
    // Kill runs until about a third of the matching rows are left.
    while (kills < total &&
           std::stoll(db_->scalar("SELECT count(*) FROM core_mstr_one_qlick_pending_users_tbl p "
                                  "WHERE EXISTS (SELECT 1 FROM core_mstr_one_qlick_users_tbl u "
                                  "WHERE u.email = p.email)")) > kUsers / 3) {
      ChildProcess child(args(file), {});
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(random)));
      child.signal(SIGKILL);
      const auto result = child.wait(std::chrono::seconds(60));
      ++kills;
      if (result.term_signal == SIGKILL) ++killed_mid_run;
      expire_dead_lease();
      expect_every_row_in_exactly_one_place(fmt::format("after kill {} (exit {}, signal {})", kills,
                                                        result.exit_code, result.term_signal));
      if (::testing::Test::HasFailure()) return;
    }
    // The next run finishes the job and reconciles the file.
    auto final_args = args(file);
    final_args.erase(final_args.begin());  // run_tool adds the binary
    // The killed instance's server session may hold the instance lock a moment longer (until
    // its statement ends and it notices the client is gone): wait for it instead of skipping.
    final_args.push_back("--wait-lock");
    const ProcessResult final_run = run_tool(final_args);
    ASSERT_EQ(final_run.exit_code, 0) << final_run.err;
    expect_every_row_in_exactly_one_place("after the completing run");
    EXPECT_EQ(db_->count("core_mstr_one_qlick_pending_users_tbl"), kPendingRows - kUsers);
    const auto in_file = deleted_per_file(file, reconciled);
    const auto archived = db_->keys("bc_archive");
    EXPECT_EQ(std::set<std::string>(in_file.begin(), in_file.end()), archived);
    EXPECT_EQ(in_file.size(), archived.size()) << "a row is in the archive file twice";
    if (::testing::Test::HasFailure()) return;
    // Put everything back for the next epoch (also exercises restore at scale).
    if (kills < total) {
      const auto restored = run_tool({"restore", "--archive-table", "bc_archive", "--database-url",
                                      db_->url(), "--log-level", "warning"});
      ASSERT_EQ(restored.exit_code, 0) << restored.err;
      ASSERT_EQ(db_->count("bc_archive"), 0);
      ++epoch;
    }
  }
  std::cerr << "kill -9 iterations: " << kills << " (" << killed_mid_run << " while running) over "
            << epoch + 1 << " epoch(s); " << reconciled << " archive-file batch(es) reconciled\n";
  EXPECT_GT(killed_mid_run, 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, Kill9Test, all_backends(), backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
