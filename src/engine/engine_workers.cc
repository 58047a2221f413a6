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
#include "engine/batch_loop.h"
#include "engine/cleanup_engine.h"
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
  std::unique_ptr<WorkerLane> lane;
  std::exception_ptr failure;
};

// A worker's share of the cycle: its counts, whether it was interrupted, its failures (up to
// `max_failures` in all) and its warnings (each once).
void add_share(CycleReport& total, CycleReport& part, std::size_t max_failures) {
  total += part;
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

void CleanupEngine::run_batches(CycleReport& report) {
  if (config_.workers > 1) {
    const std::string token = session_.store().instance_lock().share_token();
    if (!token.empty()) {
      run_workers(report, token);
      return;
    }
    if (!workers_warned_) {
      logging::logger()->warn(
          "--workers {}: the instance lock here is {}, which other connections cannot prove; "
          "cycles run on one connection (the lease table makes workers possible: see "
          "--lease-table)",
          config_.workers, session_.store().instance_lock().describe());
      workers_warned_ = true;
    }
  }
  session_.with_retries([&] { session_.store().batches().begin_pass(); });
  ProgressReporter progress(config_, progress_observer_);
  SoloLane lane(config_, session_, report, progress);
  // Whatever ends the batches (a stop, an error), the report keeps every committed batch's time.
  struct Durations {
    SoloLane& lane;
    ~Durations() { set_batch_durations(lane.report, std::move(lane.latencies)); }
  } durations{lane};
  BatchLoop(config_, session_).run(lane);
}

void CleanupEngine::open_worker_store(store::Store& store, bool& connected,
                                      const std::string& lock_token, const std::string& cycle_id,
                                      const store::PassSlice& slice) {
  session_.connect_store(store, connected);
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
  const auto slices = session_.with_retries(
      [&] { return session_.store().batches().plan_slices(config_.workers); });
  ProgressReporter progress(config_, progress_observer_);
  WorkerCrew crew(config_, progress);
  std::vector<std::unique_ptr<Worker>> workers;
  for (const auto& slice : slices) {
    auto worker = std::make_unique<Worker>();
    worker->store = store_factory_();
    worker->report.cycle_id = report.cycle_id;
    open_worker_store(*worker->store, worker->connected, lock_token, report.cycle_id, slice);
    worker->lane = std::make_unique<WorkerLane>(config_, session_, crew, *worker->store,
                                                worker->connected, worker->report, slice);
    crew.lanes.push_back(worker->lane.get());
    workers.push_back(std::move(worker));
  }
  // A table with few distinct keys may give fewer slices than --workers asked for.
  logging::logger()->info("cycle {}: {} workers, over {} slices of the table (--workers {})",
                          report.cycle_id, workers.size(), slices.size(), config_.workers);

  CycleLedger& ledger = crew.ledger;
  const BatchLoop loop(config_, session_);
  progress.restart();
  std::vector<std::thread> threads;
  for (auto& worker : workers) {
    ledger.lane_started();
    threads.emplace_back([this, &ledger, &loop, &report, worker = worker.get()] {
      // A worker's log lines name the job and the cycle, as the engine thread's do.
      logging::JobLogScope job_scope(config_.job_name);
      logging::CycleLogScope cycle_scope(report.cycle_id);
      try {
        loop.run(*worker->lane);
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
    if (lock_lost || coordinator_failure || !session_.renewal_due()) continue;
    ledger.begin_renewal();
    try {
      lock_lost = !session_.keep_lock_with_retries(report);
      if (lock_lost) ledger.abort();
    } catch (...) {
      coordinator_failure = std::current_exception();
      ledger.abort();
    }
    ledger.end_renewal();
  }
  for (auto& thread : threads) thread.join();

  std::vector<double> latencies;
  std::exception_ptr failure = coordinator_failure;
  for (auto& worker : workers) {
    add_share(report, worker->report, kMaxReportedFailures);
    latencies.insert(latencies.end(), worker->lane->latencies.begin(),
                     worker->lane->latencies.end());
    if (!failure) failure = worker->failure;
  }
  set_batch_durations(report, std::move(latencies));
  if (failure) std::rethrow_exception(failure);
}

}  // namespace batch_cleanup::engine
