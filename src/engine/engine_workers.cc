// --workers N: a cycle's batches on N connections at once. The engine's own connection holds
// the instance lock and renews it between the workers' batches; each worker proves the lock in
// every batch transaction (store::InstanceLock::follow) and covers one slice of the table
// (store::BatchStore::plan_slices). The workers share one ledger: --max-deletes as a budget
// reserved batch by batch, --sleep and --max-rate as one clock. Their reports are summed into
// the cycle's, whatever ends it.
#include <fmt/format.h>

#include <algorithm>
#include <thread>

#include "batch_cleanup/errors.h"
#include "engine/batch_lane.h"
#include "engine/engine_support.h"
#include "engine/preflight.h"
#include "log/log_context.h"

namespace batch_cleanup::engine {
namespace {

// How often the coordinator looks at its lock while the workers run.
constexpr auto kCoordinatorPoll = std::chrono::milliseconds(100);

struct Worker {
  std::unique_ptr<store::Store> store;
  bool connected = false;
  CycleReport report;
  std::unique_ptr<BatchLane> lane;
  std::exception_ptr failure;
};

void add_report(CycleReport& total, CycleReport& part, std::size_t max_failures) {
  static_cast<Tally&>(total) += part;
  total.interrupted = total.interrupted || part.interrupted;
  for (auto& failure : part.failures) {
    if (total.failures.size() >= max_failures) break;
    total.failures.push_back(std::move(failure));
  }
  for (auto& warning : part.warnings) {
    if (std::find(total.warnings.begin(), total.warnings.end(), warning) == total.warnings.end()) {
      total.warnings.push_back(std::move(warning));
    }
  }
}

}  // namespace

void CleanupEngine::set_store_factory(std::function<std::unique_ptr<store::Store>()> factory) {
  store_factory_ = std::move(factory);
}

void CleanupEngine::open_worker_store(store::Store& store, bool& connected,
                                      const std::string& lock_token, const std::string& cycle_id,
                                      const store::PassSlice& slice) {
  connect_store(store, connected);
  (void)store.inspect();  // the worker's catalog; the cycle's decision holds for it too
  store.configure(plan_);
  store.instance_lock().follow(lock_token);
  if (!config_.archive_table.empty()) prepare_archive(store, cycle_id);
  if (archive_file_) store.batches().set_commit_observer(archive_file_.get());
  store.batches().begin_slice(slice);
}

void CleanupEngine::run_workers(CycleReport& report, const std::string& lock_token) {
  if (!store_factory_) {
    throw ConfigError(fmt::format(
        "--workers {}: this engine has no way to open more connections (set_store_factory)",
        config_.workers));
  }
  const auto slices = with_retries([&] { return store_->batches().plan_slices(config_.workers); });
  CycleLedger ledger(config_.max_deletes, config_.sleep_between_batches, config_.max_rate);
  std::vector<std::unique_ptr<Worker>> workers;
  for (const auto& slice : slices) {
    auto worker = std::make_unique<Worker>();
    worker->store = store_factory_();
    worker->report.cycle_id = report.cycle_id;
    open_worker_store(*worker->store, worker->connected, lock_token, report.cycle_id, slice);
    worker->lane = std::make_unique<BatchLane>(*worker->store, worker->connected, worker->report,
                                               &ledger, slice);
    workers.push_back(std::move(worker));
  }
  // A table with few distinct keys may give fewer slices than --workers asked for.
  logging::logger()->info("cycle {}: {} workers, over {} slices of the table (--workers {})",
                          report.cycle_id, workers.size(), slices.size(), config_.workers);

  std::vector<BatchLane*> lanes;
  lanes.reserve(workers.size());
  for (auto& worker : workers) lanes.push_back(worker->lane.get());
  worker_lanes_ = &lanes;
  last_progress_line_ = Clock::now();
  const auto cycle_start = Clock::now();
  std::vector<std::thread> threads;
  for (auto& worker : workers) {
    ledger.lane_started();
    threads.emplace_back([this, &ledger, &report, cycle_start, worker = worker.get()] {
      // A worker's log lines name the job and the cycle, as the engine thread's do.
      logging::JobLogScope job_scope(config_.job_name);
      logging::CycleLogScope cycle_scope(report.cycle_id);
      try {
        run_lane(*worker->lane, cycle_start);
      } catch (...) {
        worker->failure = std::current_exception();
        ledger.abort();
      }
      ledger.lane_ended();
    });
  }

  // The coordinator: keeps the lease while the workers run (renewing it between their batches).
  std::exception_ptr coordinator_failure;
  bool lock_lost = false;
  while (!ledger.wait_lanes(kCoordinatorPoll)) {
    if (lock_lost || coordinator_failure) continue;
    auto& lock = store_->instance_lock();
    const auto interval = lock.keep_alive_interval();
    if (interval.count() <= 0 || Clock::now() - lock_renewed_ < interval) continue;
    ledger.begin_renewal();
    try {
      if (with_retries([&] { return lock.keep_alive(); })) {
        lock_renewed_ = Clock::now();
      } else {
        lock_held_ = false;
        lock_lost = true;
        const std::string warning = "the instance lock was taken over by another instance: cycle " +
                                    report.cycle_id + " ends here";
        logging::logger()->warn("{}", warning);
        report.warnings.push_back(warning);
        report.interrupted = true;
        ledger.abort();
      }
    } catch (...) {
      coordinator_failure = std::current_exception();
      ledger.abort();
    }
    ledger.end_renewal();
  }
  for (auto& thread : threads) thread.join();
  worker_lanes_ = nullptr;

  std::vector<double> latencies;
  std::exception_ptr failure = coordinator_failure;
  for (auto& worker : workers) {
    add_report(report, worker->report, kMaxReportedFailures);
    latencies.insert(latencies.end(), worker->lane->latencies.begin(),
                     worker->lane->latencies.end());
    if (!failure) failure = worker->failure;
  }
  report.batch_durations_ms = latencies;
  report.batch_p50_ms = percentile(latencies, 0.50);
  report.batch_p99_ms = percentile(latencies, 0.99);
  report.batch_max_ms =
      latencies.empty() ? 0 : *std::max_element(latencies.begin(), latencies.end());
  if (failure) std::rethrow_exception(failure);
}

void CleanupEngine::report_progress(Clock::time_point cycle_start) {
  // Called with the ledger's report mutex held: the lanes' reports do not change meanwhile.
  CycleReport totals;
  totals.cycle_id = (*worker_lanes_).front()->report.cycle_id;
  double progress = 0;
  for (const BatchLane* lane : *worker_lanes_) {
    static_cast<Tally&>(totals) += lane->report;
    progress += lane->progress;
  }
  progress /= static_cast<double>(worker_lanes_->size());
  report_lane_progress(totals, progress, cycle_start, last_progress_line_);
}

}  // namespace batch_cleanup::engine
