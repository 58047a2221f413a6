// What a sick disk does to a cycle on SQLite, through the real store and engine in this process:
// a full disk and I/O errors injected below SQLite (support/fault_vfs.h) at any write or fsync,
// and the write lock held by another connection. Whatever fails, every batch is whole or
// untouched, the totals add up to the rows actually gone, and the next cycle finishes the work.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "batch_cleanup/batch_cleanup.h"
#include "integration/backend_fixture.h"
#include "support/fault_vfs.h"

namespace batch_cleanup::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";
constexpr long long kMatching = 300;
constexpr long long kOthers = 50;

class SqliteFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = make_test_database(TestBackend::kSqlite);
    db_->create_original_schema();
    db_->insert_users(0, kMatching);
    db_->insert_pending(0, kMatching);
    db_->insert_pending(10000, kOthers, "q");  // emails no user has
  }

  CleanupConfig config() const {
    CleanupConfig c;
    c.database_url = db_->url();
    c.batch_size = 20;
    c.retries = 2;
    c.retry_base_delay = 1ms;
    c.retry_max_delay = 4ms;
    c.lock_timeout = 200ms;
    c.lock_timeout_set = true;
    return c;
  }

  // Rows gone from the pending table so far.
  long long gone() { return kMatching + kOthers - db_->count(kPending); }

  // The file is sound, every non-matching row is there, and nothing half-deleted: the matching
  // rows left are exactly the ones not gone.
  void expect_whole() {
    EXPECT_EQ(db_->scalar("PRAGMA integrity_check"), "ok");
    EXPECT_EQ(db_->scalar("SELECT count(*) FROM " + std::string(kPending) +
                          " WHERE pending_user_id LIKE 'q%'"),
              std::to_string(kOthers));
  }

  // Installed for the whole test: every connection opened in it goes through the fault VFS,
  // and it outlives them all (declared before db_, destroyed after).
  FaultVfs vfs_;
  std::unique_ptr<TestDatabase> db_;
};

// A full disk stops the cycle at whatever write it hits: the batches before it stay committed
// and counted, the one it hit rolls back whole, and once there is room again the next cycle
// deletes the rest.
TEST_F(SqliteFaultTest, AFullDiskMidCycleLosesNoRowAndTheNextCycleFinishes) {
  int mid_cycle = 0;  // failures after some batches had committed
  for (const int writes : {0, 60, 100, 140}) {
    SetUp();
    BatchCleanupService service(config());
    vfs_.fail_writes_after(writes, SQLITE_FULL);
    try {
      service.run_once();
      ADD_FAILURE() << "the cycle succeeded on a full disk after " << writes << " writes";
    } catch (const DatabaseError& e) {
      EXPECT_EQ(e.cause(), ErrorCause::kOther) << e.what();
      EXPECT_EQ(e.code().rfind("SQLITE_FULL", 0), 0u) << e.code() << ": " << e.what();
    }
    EXPECT_GT(vfs_.faults(), 0);
    vfs_.heal();
    expect_whole();
    const auto after_failure = service.status();
    EXPECT_EQ(after_failure.failed_cycles, 1);
    // Every commit counted: what the failed cycle reports is what is gone.
    EXPECT_EQ(after_failure.totals.deleted, gone()) << "after " << writes << " writes";
    EXPECT_LT(gone(), kMatching) << "after " << writes << " writes";
    if (gone() > 0) ++mid_cycle;
    const auto report = service.run_once();  // room again
    EXPECT_EQ(report.failed, 0);
    EXPECT_EQ(db_->count(kPending), kOthers);
    EXPECT_EQ(service.status().totals.deleted, kMatching);
    expect_whole();
  }
  EXPECT_GE(mid_cycle, 2);
}

// An I/O error on fsync fails the COMMIT: SQLite rolls the transaction back, nothing of the
// batch is gone and nothing of it is counted.
TEST_F(SqliteFaultTest, AFailedFsyncRollsTheBatchBackAndCountsNothing) {
  BatchCleanupService service(config());
  vfs_.fail_syncs();
  EXPECT_THROW(service.run_once(), DatabaseError);
  EXPECT_GT(vfs_.faults(), 0);
  vfs_.heal();
  expect_whole();
  EXPECT_EQ(gone(), 0);
  EXPECT_EQ(service.status().totals.deleted, 0);
  EXPECT_EQ(service.run_once().deleted, kMatching);
  EXPECT_EQ(db_->count(kPending), kOthers);
}

// An I/O error on a write, like a full disk, ends the cycle; the rows are whole and the next
// cycle deletes them.
TEST_F(SqliteFaultTest, AnIoErrorOnWriteEndsTheCycleAndTheNextOneFinishes) {
  BatchCleanupService service(config());
  vfs_.fail_writes_after(120, SQLITE_IOERR_WRITE);
  try {
    service.run_once();
    ADD_FAILURE() << "the cycle succeeded through I/O errors";
  } catch (const DatabaseError& e) {
    EXPECT_EQ(e.code().rfind("SQLITE_IOERR", 0), 0u) << e.code() << ": " << e.what();
  }
  vfs_.heal();
  expect_whole();
  EXPECT_GT(gone(), 0);  // batches before the error stay committed
  EXPECT_EQ(service.status().totals.deleted, gone());
  service.run_once();
  EXPECT_EQ(db_->count(kPending), kOthers);
  EXPECT_EQ(service.status().totals.deleted, kMatching);
}

// The write lock held by the application past the lock timeout (SQLITE_BUSY) is a lock timeout:
// the batch is retried, and goes through once the application commits.
TEST_F(SqliteFaultTest, TheWriteLockHeldByAnotherConnectionIsWaitedOutAndRetried) {
  auto application = db_->another_connection();
  application->exec("BEGIN IMMEDIATE");
  std::thread release([&] {
    std::this_thread::sleep_for(300ms);
    application->exec("COMMIT");
  });
  auto c = config();
  c.retries = 20;
  c.retry_base_delay = 50ms;
  c.retry_max_delay = 100ms;
  BatchCleanupService service(c);
  const auto report = service.run_once();
  release.join();
  EXPECT_EQ(report.deleted, kMatching);
  EXPECT_EQ(report.failed, 0);
  EXPECT_GE(report.duration_ms, 250);  // it did meet the held lock, and waited it out
  EXPECT_EQ(db_->count(kPending), kOthers);
}

// Held for longer than every retry (one attempt, which waits out the 5 s busy timeout): the
// cycle fails as a lock timeout, with nothing deleted.
TEST_F(SqliteFaultTest, AWriteLockHeldPastEveryRetryFailsAsALockTimeout) {
  auto application = db_->another_connection();
  application->exec("BEGIN IMMEDIATE");
  auto c = config();
  c.retries = 0;
  BatchCleanupService service(c);
  try {
    service.run_once();
    ADD_FAILURE() << "the cycle ran under another connection's write lock";
  } catch (const DatabaseError& e) {
    EXPECT_EQ(e.cause(), ErrorCause::kLockTimeout) << e.what();
    EXPECT_EQ(e.code().rfind("SQLITE_BUSY", 0), 0u) << e.code();
  } catch (const ConnectionError& e) {
    ADD_FAILURE() << "a held lock is not a lost connection: " << e.what();
  }
  application->exec("ROLLBACK");
  EXPECT_EQ(gone(), 0);
  EXPECT_EQ(service.run_once().deleted, kMatching);
}

}  // namespace
}  // namespace batch_cleanup::testing
