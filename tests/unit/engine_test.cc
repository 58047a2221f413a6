// The engine's behaviour and failure paths, against the in-memory fake store.
#include <gtest/gtest.h>

#include <thread>

#include "support/engine_fixture.h"

namespace batch_cleanup {
namespace {

using testing::FakeDatabase;
using testing::FakeRow;

class EngineTest : public testing::EngineFixture {
 protected:
  void SetUp() override {
    db_.user_emails = {"a@example.com", "b@example.com", "c@example.com", "d@example.com",
                       "e@example.com"};
  }

  void add_matching(int count) {
    const char* emails[] = {"a@example.com", "b@example.com", "c@example.com", "d@example.com",
                            "e@example.com"};
    for (int i = 0; i < count; ++i) add_pending("k" + std::to_string(100 + i), emails[i % 5]);
  }
};

TEST_F(EngineTest, DeletesOnlyExactMatchesInBatches) {
  add_matching(7);
  add_pending("n1", "A@example.com");  // case variant: kept
  add_pending("n2", std::nullopt);     // NULL: kept
  add_pending("n3", "z@example.com");  // no user: kept
  const auto report = run();
  EXPECT_EQ(report.candidates, 7);
  EXPECT_EQ(report.deleted, 7);
  EXPECT_EQ(report.failed, 0);
  EXPECT_EQ(report.batches, 3);  // 3 + 3 + 1
  ASSERT_EQ(db_.pending.size(), 3u);
  EXPECT_TRUE(db_.pending.count("n1") && db_.pending.count("n2") && db_.pending.count("n3"));
}

TEST_F(EngineTest, NothingToDoIsASuccessfulCycle) {
  add_pending("n1", "nobody@example.com");
  const auto report = run();
  EXPECT_EQ(report.candidates, 0);
  EXPECT_EQ(report.deleted, 0);
  EXPECT_EQ(report.batches, 1);
  EXPECT_FALSE(report.interrupted);
}

TEST_F(EngineTest, DryRunCountsAndSamplesWithoutDeleting) {
  add_matching(4);
  config_.dry_run = true;
  config_.sample_size = 2;
  const auto report = run();
  EXPECT_TRUE(report.dry_run);
  EXPECT_EQ(report.candidates, 4);
  EXPECT_EQ(report.deleted, 0);
  EXPECT_EQ(db_.delete_calls, 0);
  EXPECT_EQ(db_.pending.size(), 4u);
  ASSERT_EQ(report.sample.size(), 2u);
  EXPECT_EQ(report.sample[0].key, "k100");
  EXPECT_EQ(report.sample[0].email, "a***@example.com");
}

TEST_F(EngineTest, RetriesConnectionWithBackoffThenSucceeds) {
  add_matching(2);
  db_.connect_failures = 3;
  config_.retries = 5;
  const auto report = run();
  EXPECT_EQ(db_.connects, 4);
  EXPECT_EQ(report.deleted, 2);
}

TEST_F(EngineTest, GivesUpAfterRetriesWithConnectionError) {
  db_.connect_failures = 100;
  config_.retries = 2;
  EXPECT_THROW(run(), ConnectionError);
  EXPECT_EQ(db_.connects, 3);
}

TEST_F(EngineTest, AuthenticationFailureIsNotRetried) {
  db_.connect_fatal = true;
  config_.retries = 5;
  EXPECT_THROW(run(), DatabaseError);
  EXPECT_EQ(db_.connects, 1);
}

TEST_F(EngineTest, TransientBatchErrorIsRetriedWithoutDoubleCounting) {
  add_matching(5);
  db_.batch_errors.push_back(DatabaseError(ErrorCause::kConflict, "40P01", "deadlock detected"));
  const auto report = run();
  EXPECT_EQ(report.deleted, 5);
  EXPECT_EQ(report.batch_retries, 1);
  EXPECT_TRUE(db_.pending.empty());
}

TEST_F(EngineTest, LostConnectionDuringBatchReconnects) {
  add_matching(5);
  db_.batch_errors.push_back(
      DatabaseError(ErrorCause::kConnectionLost, "08006", "server closed the connection"));
  const auto report = run();
  EXPECT_EQ(report.deleted, 5);
  EXPECT_EQ(db_.connects, 2);
}

TEST_F(EngineTest, StatementTimeoutRetriesTheBatchSmaller) {
  add_matching(5);
  config_.batch_size = 4;
  db_.batch_errors.push_back(DatabaseError(ErrorCause::kStatementTimeout, "57014",
                                           "canceling statement due to statement timeout"));
  const auto report = run();
  EXPECT_EQ(report.deleted, 5);
  ASSERT_GE(db_.batch_targets.size(), 2u);
  EXPECT_EQ(db_.batch_targets[0], 4);
  EXPECT_EQ(db_.batch_targets[1], 2);
}

TEST_F(EngineTest, PersistentTransientErrorEndsTheCycleAfterRetries) {
  add_matching(5);
  config_.retries = 2;
  for (int i = 0; i < 5; ++i) {
    db_.batch_errors.push_back(DatabaseError(ErrorCause::kLockTimeout, "55P03", "lock timeout"));
  }
  EXPECT_THROW(run(), DatabaseError);
  EXPECT_EQ(db_.batch_calls, 3);
}

TEST_F(EngineTest, FatalBatchErrorIsNotRetried) {
  add_matching(5);
  db_.batch_errors.push_back(DatabaseError(ErrorCause::kPrivilege, "42501", "permission denied"));
  EXPECT_THROW(run(), DatabaseError);
  EXPECT_EQ(db_.batch_calls, 1);
  EXPECT_EQ(db_.pending.size(), 5u);
}

TEST_F(EngineTest, RefusedRowsAreCountedMaskedAndTheRestProceeds) {
  add_matching(6);
  db_.pending.at("k101").refuse_sqlstate = "23503";
  const auto report = run();
  EXPECT_EQ(report.deleted, 5);
  EXPECT_EQ(report.failed, 1);
  ASSERT_EQ(report.failures.size(), 1u);
  EXPECT_EQ(report.failures[0].key, "k101");
  EXPECT_EQ(report.failures[0].sqlstate, "23503");
  EXPECT_EQ(report.failures[0].email, "b***@example.com");
  // The database's message quoted the email; the report must not.
  EXPECT_EQ(report.failures[0].message.find("b@example.com"), std::string::npos);
  EXPECT_NE(report.failures[0].message.find("b***@example.com"), std::string::npos);
  ASSERT_EQ(db_.pending.size(), 1u);
}

TEST_F(EngineTest, LogPiiShowsEmailsUnmasked) {
  add_matching(2);
  db_.pending.at("k100").refuse_sqlstate = "P0001";
  config_.log_pii = true;
  const auto report = run();
  ASSERT_EQ(report.failures.size(), 1u);
  EXPECT_EQ(report.failures[0].email, "a@example.com");
}

TEST_F(EngineTest, LockedRowsAreSkippedAndCounted) {
  add_matching(4);
  db_.pending.at("k102").locked_by_other = true;
  const auto report = run();
  EXPECT_EQ(report.deleted, 3);
  EXPECT_EQ(report.skipped, 1);
  EXPECT_EQ(db_.pending.count("k102"), 1u);
}

TEST_F(EngineTest, InDoubtCommitIsReRunSafely) {
  add_matching(5);
  db_.commit_in_doubt_once = true;
  const auto report = run();
  EXPECT_TRUE(db_.pending.empty());
  EXPECT_EQ(report.batch_retries, 1);
  // The database said the batch committed: its rows count, exactly once.
  EXPECT_EQ(report.deleted, 5);
}

TEST_F(EngineTest, StopRequestEndsTheCycleBetweenBatches) {
  add_matching(9);
  config_.batch_size = 2;
  db_.on_batch = [&] {
    if (db_.batch_calls == 2) stop_->request();
  };
  const auto report = run();
  EXPECT_TRUE(report.interrupted);
  EXPECT_EQ(report.batches, 2);
  EXPECT_EQ(report.deleted, 4);
  EXPECT_EQ(db_.pending.size(), 5u);
}

TEST_F(EngineTest, StopDuringRetryBackoffEndsTheCycle) {
  add_matching(3);
  config_.retry_base_delay = std::chrono::milliseconds(5000);
  config_.retry_max_delay = std::chrono::milliseconds(5000);
  db_.batch_errors.push_back(
      DatabaseError(ErrorCause::kConflict, "40001", "serialization failure"));
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop_->request();
  });
  const auto start = std::chrono::steady_clock::now();
  const auto report = run();
  stopper.join();
  EXPECT_TRUE(report.interrupted);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_F(EngineTest, BatchTimeAdaptsTheBatchSizeTowardsTheTarget) {
  add_matching(400);
  config_.batch_size = 10;
  config_.batch_time = std::chrono::milliseconds(40);
  // Each batch costs 1 ms per 10 rows: the target of 40 ms means about 400 rows per batch.
  db_.on_batch = [&] {
    std::this_thread::sleep_for(std::chrono::microseconds(100 * db_.batch_targets.back()));
  };
  const auto report = run();
  EXPECT_EQ(report.deleted, 400);
  ASSERT_GE(db_.batch_targets.size(), 3u);
  EXPECT_EQ(db_.batch_targets[0], 10);
  EXPECT_EQ(db_.batch_targets[1], 20);  // at most doubled per batch
  EXPECT_EQ(db_.batch_targets[2], 40);
  EXPECT_LE(db_.batch_targets.back(), 400);
}

TEST_F(EngineTest, BatchTimeShrinksSlowBatches) {
  add_matching(60);
  config_.batch_size = 40;
  config_.batch_time = std::chrono::milliseconds(10);
  db_.on_batch = [&] { std::this_thread::sleep_for(std::chrono::milliseconds(40)); };
  run();
  ASSERT_GE(db_.batch_targets.size(), 2u);
  EXPECT_EQ(db_.batch_targets[1], 20);  // at most halved per batch
}

TEST_F(EngineTest, SleepPausesBetweenBatches) {
  add_matching(8);  // batches of 3, 3 and 2
  config_.sleep_between_batches = std::chrono::milliseconds(40);
  const auto report = run();
  EXPECT_EQ(report.batches, 3);
  // Pauses after the first two batches only: the last one ends the pass.
  EXPECT_GE(report.throttle_ms, 79.0);
  EXPECT_LT(report.throttle_ms, 1000.0);
}

TEST_F(EngineTest, MaxRateLimitsDeletedRowsPerSecond) {
  add_matching(9);
  config_.max_rate = 60;  // 3 rows per batch: each batch takes at least 50 ms
  const auto start = std::chrono::steady_clock::now();
  const auto report = run();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(report.deleted, 9);
  EXPECT_GE(elapsed, std::chrono::milliseconds(99));
  EXPECT_GE(report.throttle_ms, 90.0);
}

TEST_F(EngineTest, StopDuringThrottleEndsTheCycle) {
  add_matching(9);
  config_.sleep_between_batches = std::chrono::seconds(30);
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop_->request();
  });
  const auto start = std::chrono::steady_clock::now();
  const auto report = run();
  stopper.join();
  EXPECT_TRUE(report.interrupted);
  EXPECT_EQ(report.deleted, 3);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(EngineTest, ReportJsonHasTheContractFields) {
  add_matching(2);
  const auto json = run().to_json();
  for (const char* field : {"\"candidates\":2", "\"deleted\":2", "\"failed\":0",
                            "\"dry_run\":false", "\"batches\":", "\"duration_ms\":"}) {
    EXPECT_NE(json.find(field), std::string::npos) << field << " in " << json;
  }
}

}  // namespace
}  // namespace batch_cleanup
