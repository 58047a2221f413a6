// Issue 22, point 5's last case: the application's own flows (sign-up with an OTP code, renewal
// of the token in place, verification) run on their own connections while a daemon cleans up
// with the two jobs of the README's worked example: verified duplicates by email, and sign-ups
// whose expires_at passed more than an hour ago. No application statement may fail, and every
// pending row and OTP row that left the tables is in the archive, deleted for a reason that held.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <random>
#include <set>
#include <thread>

#include "integration/json_report.h"
#include "integration/policy_fixture.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kOtp = "otp_verifications";
constexpr const char* kArchive = "signup_archive";

class SignupFlowsTest : public PolicyTest {
 protected:
  void create_signup_schema() {
    const bool pg = db_->is_postgres();
    const std::string time_type = pg ? "timestamptz" : "TIMESTAMP";
    db_->exec(std::string("CREATE TABLE ") + kUsers +
              " (user_id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, phone TEXT UNIQUE)");
    db_->exec(std::string("CREATE TABLE ") + kPending +
              " (pending_user_id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, phone TEXT UNIQUE, "
              "created_at " +
              time_type + " NOT NULL, expires_at " + time_type + " NOT NULL, is_verified " +
              (pg ? "boolean" : "INTEGER") + " NOT NULL DEFAULT " + (pg ? "false" : "0") + ")");
    db_->exec(std::string("CREATE TABLE ") + kOtp +
              " (otp_id TEXT PRIMARY KEY, pending_user_id TEXT REFERENCES " + kPending +
              " (pending_user_id) ON DELETE CASCADE, user_id TEXT REFERENCES " + kUsers +
              " (user_id) ON DELETE CASCADE, code TEXT NOT NULL, created_at " + time_type +
              " NOT NULL, CHECK ((user_id IS NULL) <> (pending_user_id IS NULL)))");
    db_->exec(std::string("CREATE INDEX otp_pending_idx ON ") + kOtp + " (pending_user_id)");
    db_->exec(std::string("CREATE INDEX otp_user_idx ON ") + kOtp + " (user_id)");
  }
  std::string truth(bool value) const {
    if (db_->is_postgres()) return value ? "true" : "false";
    return value ? "1" : "0";
  }
};

// One application session: its own connection, the statements the sign-up service issues.
struct AppFlows {
  AppFlows(TestDatabase& database, std::string true_value, std::string false_value)
      : db(database), yes(std::move(true_value)), no(std::move(false_value)) {}
  TestDatabase& db;
  std::string yes;
  std::string no;
  int errors = 0;
  std::string first_error;
  int otp_inserted = 0;

  bool run(const std::string& sql) {
    try {
      db.exec(sql);
      return true;
    } catch (const std::exception& e) {
      if (errors++ == 0) first_error = e.what() + std::string(" in ") + sql;
      return false;
    }
  }
  // Sign-up: the pending row and its first code, in one transaction. `age` back-dates
  // created_at, so that the in-flight window (--min-age 1m) has passed for it.
  void signup(const std::string& id, long long age, long long expires_in) {
    if (run(fmt::format("BEGIN; INSERT INTO {0} (pending_user_id, email, phone, created_at, "
                        "expires_at, is_verified) VALUES ('{1}', '{1}@example.com', '+{2}', "
                        "'{3}', '{4}', {5}); INSERT INTO {6} (otp_id, pending_user_id, code, "
                        "created_at) VALUES ('otp_{1}_0', '{1}', '123456', '{3}'); COMMIT",
                        kPending, id, std::hash<std::string>{}(id) % 1000000000, ago(age),
                        ago(-expires_in), no, kOtp))) {
      ++otp_inserted;
    } else {
      run("ROLLBACK");
    }
  }
  // Renewal: the person signs up again; the token is renewed in place with a new code.
  void renew(const std::string& id, int round) {
    if (run(fmt::format("BEGIN; UPDATE {0} SET expires_at = '{1}' WHERE pending_user_id = '{2}'; "
                        "INSERT INTO {3} (otp_id, pending_user_id, code, created_at) VALUES "
                        "('otp_{2}_{4}', '{2}', '654321', '{5}'); COMMIT",
                        kPending, ago(-24 * kHour), id, kOtp, round, ago(0)))) {
      ++otp_inserted;
    } else {
      run("ROLLBACK");
    }
  }
  // Verification: the users row appears and the pending row is marked; the pending row stays
  // behind for the cleanup (the duplicate this tool exists for).
  void verify(const std::string& id) {
    if (!run(fmt::format("BEGIN; INSERT INTO {0} (user_id, email) VALUES ('u_{1}', "
                         "'{1}@example.com'); UPDATE {2} SET is_verified = {3} WHERE "
                         "pending_user_id = '{1}'; COMMIT",
                         kUsers, id, kPending, yes))) {
      run("ROLLBACK");
    }
  }
};

TEST_P(SignupFlowsTest, SignupRenewalAndVerificationBesideADaemonFailNothingAndLoseNothing) {
  create_signup_schema();
  // Before the daemon starts: verified duplicates, stale sign-ups, renewed ones, live ones.
  auto app_db = db_->another_connection();
  AppFlows app(*app_db, truth(true), truth(false));
  std::set<std::string> verified, stale, live;
  for (int i = 0; i < 300; ++i) {
    const std::string id = fmt::format("seed{:04}", i);
    switch (i % 4) {
      case 0:  // verified duplicate
        app.signup(id, 2 * kHour, 22 * kHour);
        app.verify(id);
        verified.insert(id);
        break;
      case 1:  // token expired two days ago
        app.signup(id, 3 * kDay, -2 * kDay);
        stale.insert(id);
        break;
      case 2:  // signed up three days ago, renewed: the application still accepts it
        app.signup(id, 3 * kDay, -2 * kDay);
        app.renew(id, 1);
        live.insert(id);
        break;
      default:  // an ordinary live sign-up
        app.signup(id, 10 * kMinute, 23 * kHour);
        live.insert(id);
    }
  }
  ASSERT_EQ(app.errors, 0) << app.first_error;
  const int seeded_otp = app.otp_inserted;

  ChildProcess daemon({tool_binary(),     "--daemon", "--interval",       "1s",
                       "--output",        "json",     "--batch-size",     "50",
                       "--min-age",       "1m",       "--created-column", "created_at",
                       "--expired-for",   "1h",       "--expires-column", "expires_at",
                       "--archive-table", kArchive,   "--database-url",   db_->url()},
                      {});

  // The application keeps working while the daemon runs: new sign-ups (some back-dated past the
  // in-flight window), renewals of live tokens, and verifications of live ones.
  std::mt19937 random(22);
  std::vector<std::string> live_list(live.begin(), live.end());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(6);
  for (int round = 0; std::chrono::steady_clock::now() < deadline; ++round) {
    const std::string id = fmt::format("new{:05}", round);
    app.signup(id, round % 2 == 0 ? 2 * kHour : 0, 24 * kHour);
    live.insert(id);
    live_list.push_back(id);
    const std::string& renewed = live_list[random() % live_list.size()];
    if (live.count(renewed) != 0) app.renew(renewed, round + 2);
    if (round % 3 == 0) {
      const std::string chosen = live_list[random() % live_list.size()];
      if (live.count(chosen) != 0) {
        app.verify(chosen);
        live.erase(chosen);
        verified.insert(chosen);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // The daemon's next cycles take what the application left behind.
  const auto done = [&] {
    for (const auto& id : stale) {
      if (db_->scalar(std::string("SELECT count(*) FROM ") + kPending +
                      " WHERE pending_user_id = '" + id + "'") != "0") {
        return false;
      }
    }
    return db_->scalar(std::string("SELECT count(*) FROM ") + kPending + " p JOIN " + kUsers +
                       " u ON u.email = p.email WHERE p.created_at < '" + ago(90) + "'") == "0";
  };
  for (int i = 0; i < 300 && !done(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  daemon.signal(SIGTERM);
  const auto result = daemon.wait(std::chrono::seconds(30));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(app.errors, 0) << app.first_error;
  EXPECT_TRUE(done());

  // Every stale sign-up and every verified one old enough is gone; every live one stayed.
  const auto present = [&](const std::string& id) {
    return db_->scalar(std::string("SELECT count(*) FROM ") + kPending +
                       " WHERE pending_user_id = '" + id + "'") == "1";
  };
  for (const auto& id : stale) EXPECT_FALSE(present(id)) << id;
  for (const auto& id : live) EXPECT_TRUE(present(id)) << id;
  // Every pending row the application wrote is in the table or the archive, never both.
  const auto pending_left =
      std::stoll(db_->scalar(std::string("SELECT count(*) FROM ") + kPending));
  const auto archived = std::stoll(db_->scalar(std::string("SELECT count(*) FROM ") + kArchive));
  EXPECT_EQ(pending_left + archived,
            static_cast<long long>(verified.size() + stale.size() + live.size()));
  EXPECT_EQ(db_->scalar(std::string("SELECT count(*) FROM ") + kArchive + " a JOIN " + kPending +
                        " p ON p.pending_user_id = a.pending_user_id"),
            "0");
  // Each archived row was deleted for a reason that held: a users row has its email, or its
  // token had expired more than an hour before it was archived.
  EXPECT_EQ(db_->scalar(std::string("SELECT count(*) FROM ") + kArchive +
                        " a WHERE NOT EXISTS "
                        "(SELECT 1 FROM " +
                        kUsers + " u WHERE u.email = a.email) AND a.expires_at > '" +
                        ago(kHour - 60) + "'"),
            "0");
  // Every OTP code is in its table or, cascaded with its sign-up, in the archive's child table.
  const auto otp_left = std::stoll(db_->scalar(std::string("SELECT count(*) FROM ") + kOtp));
  const auto otp_archived =
      std::stoll(db_->scalar(std::string("SELECT count(*) FROM ") + kArchive + "__" + kOtp));
  EXPECT_GT(otp_archived, 0);
  EXPECT_EQ(otp_left + otp_archived, app.otp_inserted);
  EXPECT_GE(app.otp_inserted, seeded_otp);
  EXPECT_EQ(
      db_->scalar(std::string("SELECT count(*) FROM ") + kArchive + "__" + kOtp + " c LEFT JOIN " +
                  kArchive +
                  " a ON a.pending_user_id = c.pending_user_id WHERE a.pending_user_id IS NULL"),
      "0");
  // The reports count the same rows: pending rows deleted, and the codes that went with them.
  long long deleted = 0;
  for (const auto& report : json_reports(result)) deleted += report["deleted"].get<long long>();
  EXPECT_EQ(deleted, archived);
}

INSTANTIATE_TEST_SUITE_P(Backends, SignupFlowsTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
