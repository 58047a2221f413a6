// The embeddable library: BatchCleanupService and the process-wide worker functions.
#include <gtest/gtest.h>

#include <functional>
#include <thread>
#include <utility>
#include <vector>

#include "batch_cleanup/batch_cleanup.h"
#include "integration/backend_fixture.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";

class LibraryTest : public BackendTest {
 protected:
  CleanupConfig config() {
    CleanupConfig c;
    c.database_url = db_->url();
    c.batch_size = 10;
    return c;
  }
};

TEST_P(LibraryTest, ServiceRunOnceReportsAndAccumulatesStatus) {
  db_->create_original_schema();
  db_->insert_users(0, 30);
  db_->insert_pending(0, 25);
  db_->insert_pending(100, 5);
  BatchCleanupService service(config());
  const auto report = service.run_once();
  EXPECT_EQ(report.deleted, 25);
  EXPECT_EQ(report.candidates, 25);
  // Physical batches (PostgreSQL ctid ranges) never hold more than 4x the batch size.
  EXPECT_LE(report.deleted, report.batches * 4 * 10);
  EXPECT_EQ(report.backend, backend_name(GetParam()));
  db_->insert_pending(25, 3);
  EXPECT_EQ(service.run_once().deleted, 3);
  const auto status = service.status();
  EXPECT_FALSE(status.running);
  EXPECT_EQ(status.cycles, 2);
  EXPECT_EQ(status.totals.deleted, 28);
  ASSERT_TRUE(status.last_report.has_value());
  EXPECT_EQ(status.last_report->deleted, 3);
  EXPECT_TRUE(status.last_run.has_value());
  EXPECT_EQ(db_->count(kPending), 5);
}

TEST_P(LibraryTest, ServiceThrowsConfigErrorForUnknownTable) {
  db_->create_original_schema();
  auto c = config();
  c.users_table = "missing_users";
  BatchCleanupService service(c);
  EXPECT_THROW(service.run_once(), ConfigError);
  EXPECT_EQ(service.status().failed_cycles, 1);
  EXPECT_NE(service.status().last_error.find("missing_users"), std::string::npos);
}

TEST_P(LibraryTest, InvalidConfigIsRejectedAtConstruction) {
  auto c = config();
  c.pending_key = "bad key";
  EXPECT_THROW(BatchCleanupService{c}, ConfigError);
  c = config();
  c.batch_size = 0;
  EXPECT_THROW(BatchCleanupService{c}, ConfigError);
}

// The ranges the command line's parser enforces hold for a configuration built in C++ too: the
// service refuses it before it connects, naming the option, and the table is not touched.
TEST_P(LibraryTest, OutOfRangeOptionsAreRejectedLikeTheirFlags) {
  db_->create_original_schema();
  db_->insert_users(0, 5);
  db_->insert_pending(0, 5);
  const std::vector<std::pair<std::string, std::function<void(CleanupConfig&)>>> cases = {
      {"--workers", [](CleanupConfig& c) { c.workers = 0; }},
      {"--workers", [](CleanupConfig& c) { c.workers = 65; }},
      {"--batch-size", [](CleanupConfig& c) { c.batch_size = -1; }},
      {"--retries", [](CleanupConfig& c) { c.retries = 21; }},
      {"--sample-size", [](CleanupConfig& c) { c.sample_size = -1; }},
      {"--max-rate", [](CleanupConfig& c) { c.max_rate = -1; }},
      {"--sqlite-cache-mb", [](CleanupConfig& c) { c.sqlite_cache_mb = 5000; }},
      {"--max-replication-lag-bytes", [](CleanupConfig& c) { c.max_replication_lag_bytes = -1; }},
      {"--min-age", [](CleanupConfig& c) { c.min_age = std::chrono::milliseconds(10); }},
  };
  for (const auto& [option, set] : cases) {
    auto c = config();
    set(c);
    try {
      BatchCleanupService service(c);
      ADD_FAILURE() << option << ": the service accepted the configuration";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(option), std::string::npos) << e.what();
    }
    EXPECT_THROW(start_batch_cleanup_worker(c), ConfigError) << option;
    EXPECT_FALSE(get_cleanup_status().running) << option;
  }
  EXPECT_EQ(db_->count(kPending), 5);
}

TEST_P(LibraryTest, BackgroundThreadRunsOnScheduleAndStops) {
  db_->create_original_schema();
  db_->insert_users(0, 20);
  db_->insert_pending(0, 10);
  auto c = config();
  c.interval = std::chrono::seconds(1);
  BatchCleanupService service(c);
  service.start();
  for (int i = 0; i < 300 && db_->count(kPending) != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(db_->count(kPending), 0);
  auto status = service.status();
  EXPECT_TRUE(status.running);
  EXPECT_TRUE(status.next_run.has_value());
  db_->insert_pending(10, 5);
  for (int i = 0; i < 300 && db_->count(kPending) != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(db_->count(kPending), 0);
  const auto before_stop = std::chrono::steady_clock::now();
  service.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before_stop, std::chrono::seconds(3));
  status = service.status();
  EXPECT_FALSE(status.running);
  EXPECT_GE(status.cycles, 2);
  EXPECT_EQ(status.totals.deleted, 15);
  // A stopped service can still run a manual cycle.
  db_->insert_pending(15, 2);
  EXPECT_EQ(service.run_once().deleted, 2);
}

TEST_P(LibraryTest, ProcessWideWorkerMirrorsTheOriginalApi) {
  db_->create_original_schema();
  db_->insert_users(0, 20);
  db_->insert_pending(0, 8);
  auto c = config();
  c.interval = std::chrono::hours(2);
  ASSERT_TRUE(start_batch_cleanup_worker(c));
  EXPECT_FALSE(start_batch_cleanup_worker(c)) << "a second start must not start another worker";
  for (int i = 0; i < 300 && get_cleanup_status().cycles == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto status = get_cleanup_status();
  EXPECT_TRUE(status.running);
  EXPECT_EQ(status.interval, std::chrono::hours(2));
  ASSERT_TRUE(status.last_report.has_value());
  EXPECT_EQ(status.last_report->deleted, 8);
  db_->insert_pending(8, 4);
  EXPECT_EQ(run_cleanup_now(), 4);
  EXPECT_EQ(get_cleanup_status().totals.deleted, 12);
  const auto json = get_cleanup_status().to_json();
  EXPECT_NE(json.find("\"running\":true"), std::string::npos) << json;
  EXPECT_NE(json.find("\"interval_hours\":2.0"), std::string::npos) << json;
  stop_batch_cleanup_worker();
  EXPECT_FALSE(get_cleanup_status().running);
  stop_batch_cleanup_worker();  // idempotent
}

TEST_P(LibraryTest, ConcurrentRunOnceCallsDoNotOverlap) {
  db_->create_original_schema();
  db_->insert_users(0, 2000);
  db_->insert_pending(0, 2000);
  BatchCleanupService service(config());
  std::vector<std::thread> threads;
  std::atomic<long long> deleted{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] { deleted += service.run_once().deleted; });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(deleted.load(), 2000);
  EXPECT_EQ(service.status().cycles, 4);
  EXPECT_EQ(db_->count(kPending), 0);
}

TEST_P(LibraryTest, ExampleHostProgramEmbedsTheWorker) {
  db_->create_original_schema();
  db_->insert_users(0, 10);
  db_->insert_pending(0, 6);
  ChildProcess child({BATCH_CLEANUP_EXAMPLE_BINARY},
                     {{"DATABASE_URL", db_->url()}, {"BATCH_CLEANUP_INTERVAL", "1h"}});
  const auto result = child.wait(std::chrono::seconds(60));
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("service running: true"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("interval: 1.00 hours"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("first cycle deleted: 6"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("manual cleanup deleted: 0"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("service running after stop: false"), std::string::npos) << result.out;
  EXPECT_EQ(db_->count(kPending), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, LibraryTest, all_backends(), backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
