// Cascaded rows archived under concurrent inserts (PostgreSQL): while a run deletes pending rows
// in several batches, another session keeps inserting OTP codes for the very rows being deleted.
// Every code the cascade deleted must be in the child archive table: the batch's parent rows
// are locked by a statement of their own before the statement that copies their children, so a
// code either committed before the lock (and is copied) or waits for the batch's commit and then
// fails on its foreign key.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>

#include "integration/backend_fixture.h"
#include "integration/json_report.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";

class ArchiveDependentsRaceTest : public BackendTest {};

TEST_P(ArchiveDependentsRaceTest, ACodeInsertedDuringTheRunIsNeverLostUnarchived) {
  constexpr int kParents = 200;
  db_->create_original_schema();
  db_->exec(
      "CREATE TABLE otp_verifications (otp_id TEXT PRIMARY KEY, pending_user_id TEXT "
      "REFERENCES core_mstr_one_qlick_pending_users_tbl (pending_user_id) ON DELETE CASCADE, "
      "code TEXT NOT NULL)");
  db_->insert_users(0, kParents);
  db_->insert_pending(0, kParents);
  // Each row's delete takes a while, so that codes commit between the statement's start and
  // the deletion of their parent (the window of the race).
  db_->exec(
      "CREATE FUNCTION slow_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM "
      "pg_sleep(0.005); RETURN OLD; END $$; CREATE TRIGGER slow_row BEFORE DELETE ON " +
      std::string(kPending) + " FOR EACH ROW EXECUTE FUNCTION slow_row()");

  auto app = db_->another_connection();
  std::atomic<bool> stop{false};
  std::atomic<int> attempts{0};
  std::set<std::string> inserted;  // written by the thread only, read after join
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      const std::string otp = "o" + std::to_string(i);
      try {
        // A code for a parent the run is about to delete, or has deleted (then refused).
        app->exec(fmt::format("INSERT INTO otp_verifications VALUES ('{}', 'p{}', '{}')", otp,
                              (i * 7) % kParents, 100000 + i));
        inserted.insert(otp);
      } catch (const std::runtime_error&) {
        // The parent is gone: a foreign key violation, nothing inserted.
      }
      ++attempts;
    }
  });
  while (attempts.load() < 20) std::this_thread::yield();
  const auto result = run_on_db(
      {"--run-once", "--output", "json", "--batch-size", "25", "--archive-table", "bc_archive"});
  stop = true;
  writer.join();
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = last_json_report(result);
  // A parent whose code was being inserted when its batch locked is skipped (SKIP LOCKED) and
  // left for the next cycle.
  EXPECT_EQ(report["deleted"].get<long long>() + db_->count(kPending), kParents);
  EXPECT_GT(report["deleted"].get<long long>(), kParents / 2);
  EXPECT_GE(report["batches"].get<long long>(), 4);

  // inserted = left + archived, code by code.
  const auto left = db_->keys("otp_verifications", "otp_id");
  const auto archived = db_->keys("bc_archive__otp_verifications", "otp_id");
  // The codes left are those of the pending rows left.
  EXPECT_EQ(db_->scalar(std::string("SELECT count(*) FROM otp_verifications o WHERE NOT EXISTS "
                                    "(SELECT 1 FROM ") +
                        kPending + " p WHERE p.pending_user_id = o.pending_user_id)"),
            "0");
  std::set<std::string> accounted = left;
  accounted.insert(archived.begin(), archived.end());
  EXPECT_EQ(accounted, inserted);
  EXPECT_EQ(left.size() + archived.size(), inserted.size());
  EXPECT_GT(archived.size(), 20u);
  // The archived copy is the row as it was.
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM bc_archive__otp_verifications WHERE code <> "
                        "(100000 + substr(otp_id, 2)::int)::text"),
            "0");
}

INSTANTIATE_TEST_SUITE_P(Backends, ArchiveDependentsRaceTest,
                         ::testing::Values(TestBackend::kPostgres), backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
