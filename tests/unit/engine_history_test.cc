// The engine's run history, phase timings and progress reports, against the in-memory fake
// store.
#include <gtest/gtest.h>

#include "batch_cleanup/errors.h"
#include "support/engine_fixture.h"

namespace batch_cleanup {
namespace {

using testing::FakeDatabase;
using testing::FakeRow;

class EngineHistoryTest : public testing::EngineFixture {
 protected:
  void SetUp() override {
    config_.retry_base_delay = std::chrono::milliseconds(5);
    config_.retry_max_delay = std::chrono::milliseconds(5);
    config_.retries = 2;
    config_.batch_size = 2;
    db_.user_emails = {"a@example.com", "b@example.com", "c@example.com"};
    for (int i = 0; i < 5; ++i) {
      const std::string key = "k" + std::to_string(i);
      db_.pending[key] =
          FakeRow{key, std::string(1, static_cast<char>('a' + i % 3)) + "@example.com", false, ""};
    }
  }
};

TEST_F(EngineHistoryTest, EachCycleIsRecordedOnceWithItsCounts) {
  db_.pending["k1"].refuse_sqlstate = "23503";
  auto engine = make_engine();
  const auto first = engine.run_cycle("daemon");
  const auto second = engine.run_cycle("once");
  ASSERT_EQ(db_.history.size(), 2u);
  const auto& run = db_.history[0];
  EXPECT_EQ(run.cycle_id, first.cycle_id);
  EXPECT_EQ(run.mode, "daemon");
  EXPECT_EQ(run.candidates, 5);
  EXPECT_EQ(run.deleted, 4);
  EXPECT_EQ(run.failed, 1);
  EXPECT_EQ(run.batches, first.batches);
  EXPECT_EQ(run.outcome, "partial");
  EXPECT_EQ(run.started_at, first.started_at);
  EXPECT_EQ(run.finished_at, first.finished_at);
  EXPECT_FALSE(run.host.empty());
  EXPECT_TRUE(run.error.empty());
  EXPECT_EQ(db_.history[1].cycle_id, second.cycle_id);
  EXPECT_EQ(db_.history[1].mode, "once");
  EXPECT_EQ(db_.history[1].deleted, 0);
}

TEST_F(EngineHistoryTest, DryRunsAndNoHistoryRecordNothing) {
  config_.dry_run = true;
  make_engine().run_cycle();
  EXPECT_TRUE(db_.history.empty());
  config_.dry_run = false;
  config_.record_history = false;
  const auto report = make_engine().run_cycle();
  EXPECT_EQ(report.deleted, 5);
  EXPECT_TRUE(db_.history.empty());
}

TEST_F(EngineHistoryTest, AFailedCycleIsRecordedWithItsError) {
  db_.batch_errors.push_back(DatabaseError(ErrorCause::kPrivilege, "42501", "permission denied"));
  auto engine = make_engine();
  EXPECT_THROW(engine.run_cycle(), DatabaseError);
  ASSERT_EQ(db_.history.size(), 1u);
  EXPECT_EQ(db_.history[0].outcome, "failed");
  EXPECT_NE(db_.history[0].error.find("permission denied"), std::string::npos);
}

TEST_F(EngineHistoryTest, AnUnreachableDatabaseRecordsNothing) {
  db_.connect_failures = 100;
  auto engine = make_engine();
  EXPECT_THROW(engine.run_cycle(), ConnectionError);
  EXPECT_TRUE(db_.history.empty());
}

TEST_F(EngineHistoryTest, AHistoryWriteFailureDoesNotFailTheCycle) {
  db_.history_fails = true;
  const auto report = make_engine().run_cycle();
  EXPECT_EQ(report.deleted, 5);
}

TEST_F(EngineHistoryTest, ProgressIsReportedAfterEveryBatch) {
  std::vector<CycleProgress> seen;
  auto engine = make_engine();
  engine.set_progress_observer([&](const CycleProgress& p) { seen.push_back(p); });
  const auto report = engine.run_cycle();
  ASSERT_EQ(static_cast<std::int64_t>(seen.size()), report.batches);
  EXPECT_EQ(seen.back().deleted, 5);
  EXPECT_EQ(seen.back().fraction, 1.0);
  EXPECT_EQ(seen.back().cycle_id, report.cycle_id);
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].batches, static_cast<std::int64_t>(i + 1));
  }
}

TEST_F(EngineHistoryTest, BackoffWaitsCountAsWaitTime) {
  config_.retry_base_delay = std::chrono::milliseconds(40);
  config_.retry_max_delay = std::chrono::milliseconds(40);
  db_.batch_errors.push_back(DatabaseError(ErrorCause::kConflict, "40P01", "deadlock detected"));
  const auto report = make_engine().run_cycle();
  EXPECT_EQ(report.batch_retries, 1);
  EXPECT_GE(report.phases.wait_ms, 19.0);  // equal jitter: at least half the 40 ms delay
  EXPECT_EQ(report.batch_durations_ms.size(), static_cast<std::size_t>(report.batches));
}

}  // namespace
}  // namespace batch_cleanup
