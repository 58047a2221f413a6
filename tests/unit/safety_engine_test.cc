// The engine's guards, instance lock and archive hooks, against the in-memory fake store.
#include <gtest/gtest.h>

#include <thread>

#include "batch_cleanup/errors.h"
#include "support/engine_fixture.h"

namespace batch_cleanup {
namespace {

using testing::FakeDatabase;
using testing::FakeRow;

class SafetyEngineTest : public testing::EngineFixture {
 protected:
  void SetUp() override { db_.user_emails = {"a@example.com"}; }
  void add_matching(int count, int first = 0) {
    for (int i = first; i < first + count; ++i) {
      const std::string key = "k" + std::to_string(1000 + i);
      db_.pending[key] = FakeRow{key, "a@example.com", false, ""};
    }
  }
  void add_other(int count) {
    for (int i = 0; i < count; ++i) {
      const std::string key = "o" + std::to_string(1000 + i);
      db_.pending[key] = FakeRow{key, "nobody@example.com", false, ""};
    }
  }
};

TEST_F(SafetyEngineTest, LockHeldElsewhereSkipsTheCycleWithoutTouchingRows) {
  add_matching(5);
  db_.lock_held_elsewhere = true;
  const auto report = run();
  EXPECT_TRUE(report.skipped_by_lock);
  EXPECT_EQ(report.deleted, 0);
  EXPECT_EQ(db_.batch_calls, 0);
  EXPECT_EQ(db_.pending.size(), 5u);
}

TEST_F(SafetyEngineTest, TheLockIsReleasedAfterACycleAndAfterARefusal) {
  add_matching(5);
  run();
  EXPECT_EQ(db_.lock_attempts, 1);
  EXPECT_FALSE(db_.lock_held);
  add_matching(5, 10);
  config_.max_deletes = 1;
  EXPECT_THROW(run(), GuardError);
  EXPECT_FALSE(db_.lock_held);
}

// A batch fenced out by the lock's new holder ends the cycle, and the engine knows it holds
// the lock no more: a leader's next cycle takes it again instead of renewing it.
TEST_F(SafetyEngineTest, ABatchFencedOutEndsTheCycleAndTheLockIsTakenAgain) {
  add_matching(7);
  db_.batch_errors.push_back(
      DatabaseError(ErrorCause::kLeaseLost, "BC001", "the lease was taken over"));
  auto engine = make_engine();
  engine.keep_lock_between_cycles(true);
  const auto fenced = engine.run_cycle();
  EXPECT_TRUE(fenced.interrupted);
  EXPECT_EQ(fenced.deleted, 0);
  EXPECT_EQ(db_.pending.size(), 7u);
  ASSERT_FALSE(fenced.warnings.empty());
  EXPECT_EQ(fenced.warnings.back(), "the lease was taken over: cycle " + fenced.cycle_id +
                                        " ends here; its batch rolled back");
  const auto next = engine.run_cycle();
  EXPECT_EQ(db_.lock_attempts, 2);
  EXPECT_EQ(next.deleted, 7);
  EXPECT_TRUE(db_.pending.empty());
}

// A leader whose lock another instance took meanwhile skips its next cycle, and says why.
TEST_F(SafetyEngineTest, ALeaderWhoseLockWasTakenSkipsItsNextCycle) {
  add_matching(5);
  auto engine = make_engine();
  engine.keep_lock_between_cycles(true);
  EXPECT_EQ(engine.run_cycle().deleted, 5);
  EXPECT_TRUE(db_.lock_held);
  db_.lock_held = false;  // another instance took it
  db_.lock_held_elsewhere = true;
  add_matching(3, 10);
  const auto skipped = engine.run_cycle();
  EXPECT_TRUE(skipped.skipped_by_lock);
  EXPECT_FALSE(skipped.interrupted);
  EXPECT_EQ(skipped.deleted, 0);
  EXPECT_EQ(db_.pending.size(), 3u);
  ASSERT_FALSE(skipped.warnings.empty());
  EXPECT_EQ(skipped.warnings.back(),
            "the instance lock was taken over by another instance: cycle " + skipped.cycle_id +
                " ends here");
  db_.lock_held_elsewhere = false;
  EXPECT_EQ(engine.run_cycle().deleted, 3);
  EXPECT_EQ(db_.lock_attempts, 2);
}

TEST_F(SafetyEngineTest, DryRunTakesNoLock) {
  add_matching(5);
  config_.dry_run = true;
  const auto report = run();
  EXPECT_EQ(report.candidates, 5);
  EXPECT_EQ(db_.lock_attempts, 0);
}

TEST_F(SafetyEngineTest, WaitLockWaitsUntilTheOtherInstanceIsDone) {
  add_matching(5);
  db_.lock_held_elsewhere = true;
  config_.wait_lock = true;
  std::thread other([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    db_.lock_held_elsewhere = false;
  });
  const auto report = run();
  other.join();
  EXPECT_FALSE(report.skipped_by_lock);
  EXPECT_EQ(report.deleted, 5);
  EXPECT_GE(db_.lock_attempts, 2);
}

TEST_F(SafetyEngineTest, WaitLockEndsOnAStopRequest) {
  add_matching(5);
  db_.lock_held_elsewhere = true;
  config_.wait_lock = true;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop_->request();
  });
  const auto report = run();
  stopper.join();
  EXPECT_TRUE(report.interrupted);
  EXPECT_EQ(report.deleted, 0);
}

TEST_F(SafetyEngineTest, MaxDeletesRefusesWithoutDeleting) {
  add_matching(5);
  config_.max_deletes = 4;
  try {
    run();
    FAIL() << "no GuardError";
  } catch (const GuardError& e) {
    EXPECT_STREQ(e.what(),
                 "guard 'max-deletes' refused to run: this cycle would delete 5 rows, more than "
                 "--max-deletes 4. HINT: check what would go with --dry-run; if it is expected, "
                 "raise --max-deletes (or remove it) to run anyway");
  }
  EXPECT_EQ(db_.batch_calls, 0);
  EXPECT_EQ(db_.pending.size(), 5u);
}

TEST_F(SafetyEngineTest, MaxDeletesIsAHardCapWhenRowsAppearDuringTheCycle) {
  add_matching(5);
  config_.max_deletes = 6;
  int added = 0;
  db_.on_batch = [&] {
    if (added < 10) add_matching(5, 100 + 5 * added++);  // the application keeps adding
  };
  const auto report = run();
  EXPECT_EQ(report.deleted, 6);
  ASSERT_FALSE(report.warnings.empty());
  EXPECT_NE(report.warnings.back().find("cycle stopped at --max-deletes 6"), std::string::npos);
}

TEST_F(SafetyEngineTest, MaxFractionComparesWithThePendingTable) {
  add_matching(2);
  add_other(8);
  config_.max_fraction = 0.1;
  EXPECT_THROW(run(), GuardError);
  EXPECT_EQ(db_.pending.size(), 10u);
  config_.max_fraction = 0.2;
  EXPECT_EQ(run().deleted, 2);
}

TEST_F(SafetyEngineTest, NoCountWhenNoLimitIsSet) {
  add_matching(3);
  run();
  EXPECT_EQ(db_.candidate_counts, 0);
}

TEST_F(SafetyEngineTest, EmptyUsersTableRefusesUnlessAllowed) {
  add_matching(3);
  db_.users_empty = true;
  EXPECT_THROW(run(), GuardError);
  config_.allow_empty_users = true;
  EXPECT_NO_THROW(run());
}

TEST_F(SafetyEngineTest, ArchiveRecordsTheCycleOfEachDeletedRow) {
  add_matching(4);
  config_.archive_table = "bc_archive";
  const auto report = run();
  EXPECT_EQ(report.archived, 4);
  ASSERT_EQ(db_.archive.size(), 4u);
  for (const auto& [cycle, row] : db_.archive) EXPECT_EQ(cycle, report.cycle_id);
}

TEST_F(SafetyEngineTest, LaggingStandbyPausesBetweenBatchesUntilItCatchesUp) {
  add_matching(9);  // three batches of 3
  config_.max_replication_lag = std::chrono::milliseconds(1000);
  db_.replication_lag = std::chrono::milliseconds(5000);
  std::vector<std::chrono::steady_clock::time_point> batches;
  db_.on_batch = [&] { batches.push_back(std::chrono::steady_clock::now()); };
  std::thread standby([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    db_.replication_lag = std::chrono::milliseconds(200);
  });
  const auto report = run();
  standby.join();
  ASSERT_GE(batches.size(), 2u);
  // The first batch ran at once, then the cycle paused until the standby caught up.
  EXPECT_GE(batches[1] - batches[0], std::chrono::milliseconds(1000));
  EXPECT_EQ(report.deleted, 9);
  EXPECT_EQ(report.replication_pauses, 1);
}

TEST_F(SafetyEngineTest, NoReplicationQueriesWithoutTheLimit) {
  add_matching(9);
  run();
  EXPECT_EQ(db_.lag_queries, 0);
}

}  // namespace
}  // namespace batch_cleanup
