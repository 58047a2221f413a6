#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "batch_cleanup/errors.h"
#include "batch_cleanup/service.h"
#include "engine/cleanup_engine.h"
#include "log/log_context.h"
#include "log/logger.h"
#include "log/mask.h"
#include "store/store.h"
#include "util/time_format.h"

namespace batch_cleanup {

struct BatchCleanupService::Impl {
  explicit Impl(CleanupConfig c) : config(std::move(c)) {}

  CleanupConfig config;
  std::shared_ptr<engine::StopFlag> stop = std::make_shared<engine::StopFlag>();

  std::mutex cycle_mutex;                         // one cycle at a time
  std::unique_ptr<engine::CleanupEngine> engine;  // GUARDED_BY(cycle_mutex)

  mutable std::mutex state_mutex;
  ServiceStatus status;  // GUARDED_BY(state_mutex)

  std::mutex thread_mutex;
  std::thread thread;  // GUARDED_BY(thread_mutex)

  CycleObserver observer = nullptr;
  void* observer_ctx = nullptr;
  std::function<void(const CycleProgress&)> progress_observer;

  // Appends to status.recent_cycles, keeping the last kRecentCycles. Caller holds state_mutex.
  void remember(RunRecord run) {
    auto& recent = status.recent_cycles;
    recent.push_back(std::move(run));
    if (recent.size() > ServiceStatus::kRecentCycles) {
      recent.erase(recent.begin(),
                   recent.begin() +
                       static_cast<std::ptrdiff_t>(recent.size() - ServiceStatus::kRecentCycles));
    }
  }

  // Adds a finished cycle's counts to the status. Caller holds state_mutex.
  void count_report(const CycleReport& report) {
    status.totals += report;
    for (const double ms : report.batch_durations_ms) status.batch_duration.observe(ms / 1000);
  }

  // A cycle that ended normally (success, partial, interrupted, dry run).
  void record_finished(const CycleReport& report, const std::string& mode) {
    const auto now = std::chrono::system_clock::now();
    std::lock_guard lock(state_mutex);
    status.cycle_in_progress = false;
    ++status.cycles;
    status.consecutive_failures = 0;
    status.database_unreachable = false;
    status.last_error.clear();
    count_report(report);
    RunRecord run = make_run_record(report, mode);
    run.job = config.job_name;
    ++status.cycles_by_outcome[run.outcome];
    status.last_cycle_by_outcome[run.outcome] = now;
    if (!report.dry_run) status.last_success = now;
    remember(std::move(run));
    status.last_report = report;
  }

  // A cycle that an error ended. `unreachable`: the database could not be reached. `partial`:
  // what the cycle had committed before the error, counted like a finished cycle's rows; null
  // when the cycle could not even start (no engine).
  void record_failed(const std::string& mode, const std::string& error, bool unreachable,
                     const CycleReport* partial) {
    const auto now = std::chrono::system_clock::now();
    std::lock_guard lock(state_mutex);
    status.cycle_in_progress = false;
    ++status.cycles;
    ++status.failed_cycles;
    ++status.consecutive_failures;
    status.database_unreachable = unreachable;
    // /status, /history.json and the status page show it: no secret, no address.
    status.last_error =
        logging::maybe_mask_emails_in(logging::scrub_registered(error), config.log_pii);
    ++status.cycles_by_outcome["failed"];
    status.last_cycle_by_outcome["failed"] = now;
    RunRecord run;
    if (partial != nullptr) {
      count_report(*partial);
      run = make_run_record(*partial, mode);
    } else {
      run.started_at = status.last_run ? util::iso8601_utc(*status.last_run) : "";
      run.finished_at = util::iso8601_utc(now);
      run.host = host_name();
      run.mode = mode;
    }
    run.job = config.job_name;
    run.outcome = "failed";
    run.error = error;
    remember(std::move(run));
  }

  // A cycle that did nothing because another instance holds the lock.
  void record_skipped(const CycleReport& report) {
    std::lock_guard lock(state_mutex);
    status.cycle_in_progress = false;
    ++status.cycles_skipped[report.skipped_reason.empty() ? "lease_held" : report.skipped_reason];
    status.last_skipped = std::chrono::system_clock::now();
    if (status.leadership.role == "leader") status.leadership.role = "standby";
    status.leadership.holder = report.lease_holder;
    status.leadership.epoch = report.lease_epoch;
    status.leadership.expires_at = report.lease_expires_at;
  }

  // The engine, made on first use. Caller holds cycle_mutex.
  engine::CleanupEngine& the_engine() {
    if (!engine) {
      engine = std::make_unique<engine::CleanupEngine>(config, store::make_store(config), stop);
      if (progress_observer) engine->set_progress_observer(progress_observer);
      engine->set_store_factory([config = config] { return store::make_store(config); });
    }
    return *engine;
  }

  CycleReport run_cycle(const std::string& mode) {
    logging::JobLogScope job_scope(config.job_name);
    std::lock_guard cycle_lock(cycle_mutex);
    {
      std::lock_guard lock(state_mutex);
      status.cycle_in_progress = true;
      status.last_run = std::chrono::system_clock::now();
    }
    engine::CycleOutcome outcome;
    try {
      outcome = the_engine().run(mode);
      if (const auto last = engine->last_cycle()) {
        std::lock_guard lock(state_mutex);
        status.leadership.last_cycle = last;
      }
    } catch (const std::exception& e) {
      // The engine could not be made (a configuration the store refuses): no cycle ran.
      const std::string error = e.what();
      record_failed(mode, error, false, nullptr);
      if (observer) observer(nullptr, &error, observer_ctx);
      throw;
    }
    if (!outcome.ran && !outcome.failure) {
      record_skipped(outcome.report);
      if (observer) observer(&outcome.report, nullptr, observer_ctx);
      return std::move(outcome.report);
    }
    if (!outcome.failure) {
      record_finished(outcome.report, mode);
      if (observer) observer(&outcome.report, nullptr, observer_ctx);
      return std::move(outcome.report);
    }
    // Every commit counts: the rows the failed cycle deleted are in the totals, its report and
    // its history row.
    const std::string error = outcome.report.error;
    bool unreachable = false;
    try {
      std::rethrow_exception(outcome.failure);
    } catch (const ConnectionError&) {
      unreachable = true;
    } catch (...) {
    }
    record_failed(mode, error, unreachable, &outcome.report);
    if (observer) observer(&outcome.report, &error, observer_ctx);
    std::rethrow_exception(outcome.failure);
  }

  // Takes or keeps the lock (a leader keeps it between cycles); updates status.leadership.
  // Throws as a cycle would.
  bool lead() {
    store::LeaseFacts lease;
    bool leader = false;
    std::optional<std::chrono::system_clock::time_point> last;
    {
      std::lock_guard cycle_lock(cycle_mutex);
      auto& cleanup = the_engine();
      cleanup.keep_lock_between_cycles(true);
      leader = cleanup.lead(lease);
      last = leader ? cleanup.last_cycle() : lease.last_cycle;
    }
    std::lock_guard lock(state_mutex);
    auto& seen = status.leadership;
    seen.role = leader ? "leader" : "standby";
    if (lease.exists) {
      seen.holder = lease.holder;
      seen.epoch = lease.epoch;
      seen.expires_at = lease.expires_at;
    }
    if (last) seen.last_cycle = last;
    return leader;
  }

  void resign() {
    std::lock_guard cycle_lock(cycle_mutex);
    if (engine) engine->resign();
    std::lock_guard lock(state_mutex);
    if (status.leadership.role == "leader") status.leadership.role.clear();
  }

  void set_next_run(std::chrono::steady_clock::time_point next) {
    std::lock_guard lock(state_mutex);
    status.next_run = std::chrono::system_clock::now() +
                      std::chrono::duration_cast<std::chrono::system_clock::duration>(
                          next - std::chrono::steady_clock::now());
  }

  void halt(const ConfigError& e) {
    logging::logger()->error(
        "cycle refused: {}; this job halts until restarted (fix the configuration)", e.what());
    std::lock_guard lock(state_mutex);
    status.running = false;
    status.next_run.reset();
    status.halted_on_config_error = true;
  }

  // The daemon: one instance leads (holds the lock between its cycles and runs them on the
  // shared schedule: a cycle every interval after the start of the last completed one, of any
  // instance); the others stand by and look at the lock every lease_ttl / 3, taking it as soon
  // as it is free, expired, or its holder provably dead, and then run the cycle that was due.
  //
  // With wait_lock (set for jobs of one process that share a SQLite file), no instance leads:
  // each cycle waits for the lock and releases it (take_turns()); a dry run takes none.
  void loop() {
    logging::JobLogScope job_scope(config.job_name);
    // A dry run takes no lock at all.
    if (config.wait_lock || config.dry_run) {
      take_turns();
      return;
    }
    using Clock = std::chrono::steady_clock;
    const auto watch =
        std::max<std::chrono::milliseconds>(config.lease_ttl / 3, std::chrono::milliseconds(200));
    const auto retry_after =
        std::min<std::chrono::milliseconds>(config.interval, std::chrono::minutes(1));
    Clock::time_point retry_at{};  // after a failure: not before then
    std::optional<std::chrono::system_clock::time_point> last_skip_counted;
    bool announced_standby = false;
    while (!stop->requested()) {
      bool leader = false;
      try {
        leader = lead();
      } catch (const std::exception& e) {
        // As a cycle that could not start (the database unreachable, a table missing): it
        // counts as a failed cycle, and a configuration error halts the job.
        const std::string error = e.what();
        {
          std::lock_guard lock(state_mutex);
          status.last_run = std::chrono::system_clock::now();
        }
        record_failed("daemon", error, dynamic_cast<const ConnectionError*>(&e) != nullptr,
                      nullptr);
        if (observer) observer(nullptr, &error, observer_ctx);
        if (const auto* config_error = dynamic_cast<const ConfigError*>(&e)) {
          halt(*config_error);
          resign();
          return;
        }
        logging::logger()->error("cycle failed: {}; the worker goes on", error);
        set_next_run(Clock::now() + retry_after);
        if (stop->wait_for(retry_after)) break;
        continue;
      }
      const auto now_wall = std::chrono::system_clock::now();
      std::optional<std::chrono::system_clock::time_point> last;
      {
        std::lock_guard lock(state_mutex);
        last = status.leadership.last_cycle;
      }
      if (!leader) {
        if (!announced_standby) {
          logging::logger()->info(
              "standing by: another instance holds the lock ({}); watching it every {} ms",
              status_holder(), watch.count());
          announced_standby = true;
        }
        // The shared schedule is overdue while the lock is held elsewhere: a skipped cycle
        // (counted once per interval).
        if (last && now_wall - *last > config.interval + config.lease_ttl &&
            (!last_skip_counted || now_wall - *last_skip_counted >= config.interval)) {
          last_skip_counted = now_wall;
          std::lock_guard lock(state_mutex);
          ++status.cycles_skipped["lease_held"];
          status.last_skipped = now_wall;
        }
        set_next_run(Clock::now() + watch);
        if (stop->wait_for(watch)) break;
        continue;
      }
      announced_standby = false;
      // Due: an interval after the start of the last completed cycle (at once when none).
      auto due = Clock::now();
      if (last) {
        due += std::chrono::duration_cast<Clock::duration>(*last + config.interval - now_wall);
      }
      due = std::max(due, retry_at);
      if (due > Clock::now()) {
        set_next_run(due);
        const auto nap = std::min<Clock::duration>(due - Clock::now(), watch);
        if (stop->wait_for(nap)) break;
        continue;
      }
      // While the cycle runs, the next one is due an interval after its start.
      set_next_run(Clock::now() + config.interval);
      const auto cycle_started = std::chrono::system_clock::now();
      bool completed = false;
      try {
        const auto report = run_cycle("daemon");
        completed = !report.interrupted && !report.skipped_by_lock;
        retry_at = Clock::time_point{};
        if (report.interrupted || report.skipped_by_lock) retry_at = Clock::now() + watch;
      } catch (const ConfigError& e) {
        halt(e);
        resign();
        return;
      } catch (const std::exception& e) {
        logging::logger()->error("cycle failed: {}; the worker goes on", e.what());
        // Try again sooner than a full interval after a failure.
        retry_at = Clock::now() + retry_after;
      }
      {
        std::lock_guard cycle_lock(cycle_mutex);
        auto recorded = engine ? engine->last_cycle() : std::nullopt;
        // A lock that keeps no schedule (the store records none): this instance's own.
        if (!recorded && completed) recorded = cycle_started;
        std::lock_guard lock(state_mutex);
        if (recorded) status.leadership.last_cycle = recorded;
      }
    }
    resign();
    std::lock_guard lock(state_mutex);
    status.running = false;
    status.next_run.reset();
  }

  // A cycle every interval, each waiting for the lock and releasing it at its end.
  void take_turns() {
    using Clock = std::chrono::steady_clock;
    while (!stop->requested()) {
      const auto cycle_start = Clock::now();
      auto wait = config.interval;
      set_next_run(cycle_start + wait);
      try {
        run_cycle("daemon");
      } catch (const ConfigError& e) {
        halt(e);
        return;
      } catch (const std::exception& e) {
        logging::logger()->error("cycle failed: {}; the worker goes on", e.what());
        // Try again sooner than a full interval after a failure.
        wait = std::min<std::chrono::milliseconds>(config.interval, std::chrono::minutes(1));
      }
      const auto next = cycle_start + wait;
      set_next_run(next);
      const auto remaining = next - Clock::now();
      if (remaining > Clock::duration::zero() && stop->wait_for(remaining)) break;
    }
    std::lock_guard lock(state_mutex);
    status.running = false;
    status.next_run.reset();
  }

  std::string status_holder() {
    std::lock_guard lock(state_mutex);
    const auto& seen = status.leadership;
    return seen.holder + (seen.epoch > 0 ? " epoch " + std::to_string(seen.epoch) : "") +
           (seen.expires_at.empty() ? "" : " until " + seen.expires_at);
  }
};

BatchCleanupService::BatchCleanupService(CleanupConfig config) {
  validate_config(config);
  impl_ = std::make_unique<Impl>(std::move(config));
  impl_->status.interval = impl_->config.interval;
}

BatchCleanupService::~BatchCleanupService() { stop(); }

CycleReport BatchCleanupService::run_once() { return impl_->run_cycle("once"); }

void BatchCleanupService::start() {
  std::lock_guard thread_lock(impl_->thread_mutex);
  {
    std::lock_guard lock(impl_->state_mutex);
    if (impl_->status.running) return;
  }
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->stop->reset();
  {
    std::lock_guard lock(impl_->state_mutex);
    impl_->status.running = true;
    impl_->status.halted_on_config_error = false;
  }
  impl_->thread = std::thread([impl = impl_.get()] { impl->loop(); });
}

void BatchCleanupService::request_stop() { impl_->stop->request(); }

bool BatchCleanupService::stop_requested() const { return impl_->stop->requested(); }

void BatchCleanupService::stop() {
  impl_->stop->request();
  std::lock_guard thread_lock(impl_->thread_mutex);
  if (impl_->thread.joinable()) impl_->thread.join();
  // Wait for a run_once() cycle on another thread, too.
  std::lock_guard cycle_lock(impl_->cycle_mutex);
  impl_->stop->reset();
}

ServiceStatus BatchCleanupService::status() const {
  std::lock_guard lock(impl_->state_mutex);
  return impl_->status;
}

const CleanupConfig& BatchCleanupService::config() const { return impl_->config; }

void BatchCleanupService::set_progress_observer(
    std::function<void(const CycleProgress&)> observer) {
  impl_->progress_observer = std::move(observer);
}

void DurationHistogram::observe(double seconds) {
  const auto bound = std::lower_bound(kBoundsSeconds.begin(), kBoundsSeconds.end(), seconds);
  ++counts[static_cast<std::size_t>(bound - kBoundsSeconds.begin())];
  ++count;
  sum_seconds += seconds;
}

void BatchCleanupService::set_observer(CycleObserver observer, void* ctx) {
  impl_->observer = observer;
  impl_->observer_ctx = ctx;
}

}  // namespace batch_cleanup
