// Restore names every conflict: a row skipped because a pending row already has the values of
// any unique constraint or index (not only the key and the email) is reported with that
// constraint's name, its columns, the row's key and the masked value, in JSON and in the log.
#include <gtest/gtest.h>

#include "integration/backend_fixture.h"
#include "integration/json_report.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";

class RestoreConflictTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (!db_) return;
    db_->create_original_schema();
    // An index restore cannot name: on an expression, or on MariaDB (which has none) on a prefix
    // of the column, whose _ci collation equates the names' cases.
    db_->exec(std::string("CREATE UNIQUE INDEX pending_phone_uniq ON ") + kPending + " (phone);" +
              "CREATE UNIQUE INDEX pending_name_lower ON " + kPending +
              (db_->is_mariadb() ? " (full_name(20))" : " (lower(full_name))"));
  }
  ProcessResult run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--output", "json"});
    return run_on_db(std::move(args));
  }
  std::string pending_rows(const std::string& where) {
    return db_->dump("(SELECT * FROM " + std::string(kPending) + " WHERE " + where + ") t",
                     "pending_user_id");
  }
};

TEST_P(RestoreConflictTest, APhoneConflictIsNamedWithItsConstraintAndMaskedValue) {
  db_->insert_users(0, 5);
  db_->insert_pending(0, 4);
  db_->exec(std::string("UPDATE ") + kPending + " SET phone = 'tel-' || pending_user_id");
  const std::string before = pending_rows("pending_user_id IN ('p0', 'p3')");
  const auto archived = run({"--run-once", "--archive-table", "bc_archive"});
  ASSERT_EQ(archived.exit_code, 0) << archived.err;
  ASSERT_EQ(db_->count(kPending), 0);

  // The application meanwhile signed up n1 with p1's phone, and n2 with p2's name in capitals
  // (an expression index: it refuses the row, but restore cannot name it).
  db_->exec(std::string("INSERT INTO ") + kPending +
            " (pending_user_id, email, phone, full_name) VALUES "
            "('n1', 'other1@example.com', 'tel-p1', 'Someone'), "
            "('n2', 'other2@example.com', 'tel-n2', 'PENDING 2')");

  const auto dry = run({"restore", "--archive-table", "bc_archive", "--dry-run"});
  EXPECT_EQ(dry.exit_code, 1) << dry.err;
  const auto dry_report = last_json_report(dry);
  // The dry run names what it can check before inserting: the phone.
  ASSERT_EQ(dry_report["conflicts"].size(), 1u) << dry_report.dump();
  EXPECT_EQ(dry_report["conflicts"][0]["constraint"], "pending_phone_uniq");
  EXPECT_EQ(db_->count("bc_archive"), 4);

  const auto restored = run({"restore", "--archive-table", "bc_archive"});
  EXPECT_EQ(restored.exit_code, 1) << restored.err;
  const auto report = last_json_report(restored);
  EXPECT_EQ(report["selected"], 4);
  EXPECT_EQ(report["restored"], 2);
  EXPECT_EQ(report["skipped"], 2);
  ASSERT_EQ(report["conflicts"].size(), 2u) << report.dump();
  const auto& phone = report["conflicts"][0];
  EXPECT_EQ(phone["key"], "p1");
  EXPECT_EQ(phone["email"], "u***@example.com");
  EXPECT_EQ(phone["constraint"], "pending_phone_uniq");
  EXPECT_EQ(phone["columns"], nlohmann::json::array({"phone"}));
  EXPECT_EQ(phone["values"], nlohmann::json::array({"***"}));
  EXPECT_EQ(phone["reason"], "phone exists in the pending table");
  const auto& unnamed = report["conflicts"][1];
  EXPECT_EQ(unnamed["key"], "p2");
  EXPECT_EQ(unnamed["constraint"], "");
  EXPECT_EQ(unnamed["reason"],
            "refused by a unique index restore cannot name (partial or on an expression)");
  EXPECT_NE(restored.err.find("not restored: key=p1 email=u***@example.com: phone exists in the "
                              "pending table [unique pending_phone_uniq phone = ***]"),
            std::string::npos)
      << restored.err;

  // The restored rows are back whole; the application's rows untouched; the skipped stay.
  EXPECT_EQ(pending_rows("pending_user_id IN ('p0', 'p3')"), before);
  EXPECT_EQ(
      db_->scalar(std::string("SELECT email FROM ") + kPending + " WHERE pending_user_id = 'n1'"),
      "other1@example.com");
  EXPECT_EQ(db_->keys("bc_archive"), (std::set<std::string>{"p1", "p2"}));
  EXPECT_EQ(db_->keys(), (std::set<std::string>{"n1", "n2", "p0", "p3"}));

  // --log-pii shows the value.
  const auto shown = run({"restore", "--archive-table", "bc_archive", "--log-pii"});
  EXPECT_EQ(shown.exit_code, 1) << shown.err;
  const auto shown_report = last_json_report(shown);
  ASSERT_GE(shown_report["conflicts"].size(), 1u) << shown_report.dump();
  EXPECT_EQ(shown_report["conflicts"][0]["values"], nlohmann::json::array({"tel-p1"}));
  EXPECT_EQ(shown_report["conflicts"][0]["email"], "user1@example.com");
}

TEST_P(RestoreConflictTest, KeyAndEmailConflictsNameTheirConstraints) {
  db_->insert_users(0, 3);
  db_->insert_pending(0, 3);
  ASSERT_EQ(run({"--run-once", "--archive-table", "bc_archive"}).exit_code, 0);
  db_->exec(std::string("INSERT INTO ") + kPending +
            " (pending_user_id, email) VALUES ('p0', 'x@example.com'), ('n1', "
            "'user1@example.com')");
  const auto restored = run({"restore", "--archive-table", "bc_archive"});
  EXPECT_EQ(restored.exit_code, 1) << restored.err;
  const auto report = last_json_report(restored);
  ASSERT_EQ(report["conflicts"].size(), 2u) << report.dump();
  const bool pg = db_->is_postgres();
  const bool mariadb = db_->is_mariadb();
  EXPECT_EQ(report["conflicts"][0]["key"], "p0");
  EXPECT_EQ(report["conflicts"][0]["reason"], "key exists in the pending table");
  EXPECT_EQ(report["conflicts"][0]["constraint"],
            pg        ? "core_mstr_one_qlick_pending_users_tbl_pkey"
            : mariadb ? "PRIMARY"
                      : "sqlite_autoindex_core_mstr_one_qlick_pending_users_tbl_1");
  EXPECT_EQ(report["conflicts"][0]["values"], nlohmann::json::array({"p0"}));
  EXPECT_EQ(report["conflicts"][1]["key"], "p1");
  EXPECT_EQ(report["conflicts"][1]["constraint"],
            pg        ? "core_mstr_one_qlick_pending_users_tbl_email_key"
            : mariadb ? "email"
                      : "sqlite_autoindex_core_mstr_one_qlick_pending_users_tbl_2");
  EXPECT_EQ(report["conflicts"][1]["columns"], nlohmann::json::array({"email"}));
  EXPECT_EQ(report["conflicts"][1]["values"], nlohmann::json::array({"u***@example.com"}));
  EXPECT_EQ(db_->keys("bc_archive"), (std::set<std::string>{"p0", "p1"}));
  EXPECT_EQ(db_->keys(), (std::set<std::string>{"n1", "p0", "p2"}));
}

INSTANTIATE_TEST_SUITE_P(Backends, RestoreConflictTest, all_backends(), backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
