#include "engine/cleanup_engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <random>
#include <thread>

#include "batch_cleanup/errors.h"
#include "batch_cleanup/history.h"
#include "config/duration.h"
#include "engine/cancel_watchdog.h"
#include "engine/cycle_log.h"
#include "engine/preflight.h"
#include "log/log_context.h"
#include "log/logger.h"
#include "log/mask.h"
#include "store/sqlstate.h"
#include "util/time_format.h"

namespace batch_cleanup::engine {
namespace {

constexpr std::size_t kMaxReportedFailures = 1000;
constexpr auto kLockPollInterval = std::chrono::seconds(1);
constexpr auto kLagPollInterval = std::chrono::milliseconds(500);
constexpr auto kCancelGrace = std::chrono::seconds(2);
constexpr std::int64_t kMaxAdaptiveBatch = 1'000'000;

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double percentile(std::vector<double> values, double fraction) {
  if (values.empty()) return 0;
  const auto index = static_cast<std::size_t>(
      std::min<double>(static_cast<double>(values.size() - 1),
                       fraction * static_cast<double>(values.size() - 1) + 0.5));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(index),
                   values.end());
  return values[index];
}

}  // namespace

template <typename Operation>
auto CleanupEngine::on_session(Operation&& operation) -> decltype(operation()) {
  try {
    return operation();
  } catch (const DatabaseError& e) {
    if (e.kind() == ErrorKind::kRetryable) connected_ = false;
    throw;
  }
}

CleanupEngine::CleanupEngine(CleanupConfig config, std::unique_ptr<store::Store> store,
                             std::shared_ptr<StopFlag> stop)
    : config_(std::move(config)), store_(std::move(store)), stop_(std::move(stop)) {}

std::chrono::milliseconds CleanupEngine::backoff_delay(int attempt) const {
  thread_local std::mt19937 generator{std::random_device{}()};
  const double base = static_cast<double>(config_.retry_base_delay.count());
  const double cap = static_cast<double>(config_.retry_max_delay.count());
  const double ceiling = std::min(cap, base * static_cast<double>(1LL << std::min(attempt, 20)));
  // "Equal jitter": half fixed, half random, so attempts never bunch up at zero.
  std::uniform_real_distribution<double> jitter(ceiling / 2, ceiling);
  return std::chrono::milliseconds(static_cast<long long>(jitter(generator)));
}

void CleanupEngine::connect_with_retry() {
  const int attempts = 1 + std::max(0, config_.retries);
  for (int attempt = 0; attempt < attempts; ++attempt) {
    try {
      store_->connect();
      connected_ = true;
      logging::logger()->debug("connected to {}", store_->backend_name());
      return;
    } catch (const DatabaseError& e) {
      connected_ = false;
      if (e.kind() != ErrorKind::kRetryable) throw;
      if (attempt + 1 == attempts) {
        throw ConnectionError("database unreachable after " + std::to_string(attempts) +
                              " attempt(s): " + e.what());
      }
      const auto delay = backoff_delay(attempt);
      logging::logger()->warn("connection attempt {}/{} failed: {}; retrying in {}", attempt + 1,
                              attempts, e.what(), config::format_duration(delay));
      if (stop_->wait_for(delay)) {
        throw ConnectionError(std::string("stopped while waiting to reconnect: ") + e.what());
      }
    }
  }
}

void CleanupEngine::set_progress_observer(std::function<void(const CycleProgress&)> observer) {
  progress_observer_ = std::move(observer);
}

CycleReport CleanupEngine::run_cycle(const std::string& mode) {
  CycleReport report;
  report.cycle_id = util::random_id();
  report.dry_run = config_.dry_run;
  report.backend = store_->backend_name();
  const auto wall_start = std::chrono::system_clock::now();
  const auto start = Clock::now();
  report.started_at = util::iso8601_utc(wall_start);
  logging::CycleLogScope log_scope(report.cycle_id);

  bool ran = false;
  try {
    ran = run_cycle_body(report);
  } catch (const std::exception& e) {
    report.duration_ms = ms_since(start);
    report.finished_at = util::iso8601_utc(std::chrono::system_clock::now());
    record_history(report, mode, e.what());
    throw;
  }

  report.duration_ms = ms_since(start);
  report.finished_at = util::iso8601_utc(std::chrono::system_clock::now());
  if (!ran) return report;  // another instance holds the lock: nothing was done, nothing to record
  if (config_.dry_run) {
    logging::CountsLogScope counts({{"candidates", report.candidates}});
    logging::logger()->info(
        "cycle {} dry run: {} candidate(s) would be deleted; nothing written ({:.0f} ms)",
        report.cycle_id, report.candidates, report.duration_ms);
  } else {
    logging::CountsLogScope counts({{"candidates", report.candidates},
                                    {"deleted", report.deleted},
                                    {"deleted_email", report.deleted_by_policy.email},
                                    {"deleted_phone", report.deleted_by_policy.phone},
                                    {"deleted_expired", report.deleted_by_policy.expired},
                                    {"failed", report.failed},
                                    {"skipped", report.skipped},
                                    {"no_longer_matching", report.no_longer_matching},
                                    {"batches", report.batches},
                                    {"duration_ms", std::llround(report.duration_ms)}});
    logging::logger()->info(
        "cycle {} {}: candidates={} deleted={} failed={} skipped={} no_longer_matching={} "
        "batches={} duration={:.0f}ms batch_p50={:.1f}ms batch_p99={:.1f}ms "
        "by_policy=email:{},phone:{},expired:{}",
        report.cycle_id, report.interrupted ? "interrupted" : "finished", report.candidates,
        report.deleted, report.failed, report.skipped, report.no_longer_matching, report.batches,
        report.duration_ms, report.batch_p50_ms, report.batch_p99_ms,
        report.deleted_by_policy.email, report.deleted_by_policy.phone,
        report.deleted_by_policy.expired);
  }
  record_history(report, mode, "");
  return report;
}

bool CleanupEngine::run_cycle_body(CycleReport& report) {
  if (!connected_) connect_with_retry();
  if (!preflight_done_) {
    const auto decision = on_session([&] { return decide_preflight(config_, store_->inspect()); });
    on_session([&] { store_->configure(decision.plan); });
    strategy_ = decision.strategy;
    preflight_warnings_ = decision.warnings;
    for (const auto& warning : preflight_warnings_) logging::logger()->warn("{}", warning);
    preflight_done_ = true;
  }
  report.strategy = strategy_;
  report.warnings = preflight_warnings_;

  // A dry run writes nothing, not even a lock: it neither takes nor needs one.
  InstanceLockRelease release(*store_, lock_held_);
  if (!config_.dry_run && !acquire_instance_lock(report)) return false;
  const std::string refusal = check_guards();
  if (!refusal.empty()) {
    if (!config_.dry_run) throw GuardError(refusal);
    logging::logger()->warn("{} (a run without --dry-run would be refused)", refusal);
    report.warnings.push_back(refusal);
  }
  logging::logger()->info("cycle {} started ({}{}, strategy {}, batch size {}; {})",
                          report.cycle_id, report.backend, config_.dry_run ? ", dry run" : "",
                          strategy_, config_.batch_size, describe_policies(config_));

  if (config_.dry_run) {
    run_dry(report);
  } else {
    if (!config_.archive_table.empty()) on_session([&] { prepare_archive(report.cycle_id); });
    if (!config_.archive_file.empty()) {
      if (!archive_file_) archive_file_ = std::make_unique<ArchiveFile>(config_.archive_file);
      on_session([&] { return archive_file_->reconcile(store_->batches()); });
      archive_file_->begin_cycle(report.cycle_id);
      store_->batches().set_commit_observer(archive_file_.get());
    }
    run_batches(report);
    if (!config_.archive_table.empty()) report.archived = report.deleted;
    purge_archive(report);
  }
  return true;
}

void CleanupEngine::record_history(const CycleReport& report, const std::string& mode,
                                   const std::string& error) {
  if (config_.dry_run || !config_.record_history || !connected_) return;
  RunRecord run = make_run_record(report, mode);
  run.job = config_.job_name;
  if (!error.empty()) {
    run.outcome = "failed";
    run.error = error;
  }
  try {
    store_->history().record_run(run);
  } catch (const std::exception& e) {
    logging::logger()->warn(
        "could not record cycle {} in the history table '{}': {}. HINT: grant the role CREATE "
        "on the schema (or create the table) and INSERT on it, or pass --no-history",
        report.cycle_id, config_.history_table, e.what());
  }
}

bool CleanupEngine::acquire_instance_lock(CycleReport& report) {
  bool announced = false;
  while (true) {
    lock_held_ = on_session([&] { return store_->instance_lock().try_lock(); });
    if (lock_held_) {
      if (announced) logging::logger()->info("cycle {}: got the instance lock", report.cycle_id);
      return true;
    }
    if (!config_.wait_lock) {
      logging::logger()->info(
          "cycle {} skipped: another instance holds the lock for these tables (pass --wait-lock "
          "to wait for it)",
          report.cycle_id);
      report.skipped_by_lock = true;
      return false;
    }
    if (!announced) {
      logging::logger()->info("cycle {}: another instance holds the lock for these tables; waiting",
                              report.cycle_id);
      announced = true;
    }
    if (stop_->wait_for(kLockPollInterval)) {
      report.interrupted = true;
      return false;
    }
  }
}

std::string CleanupEngine::check_guards() {
  auto& queries = store_->dry_run();
  if (!config_.allow_empty_users && on_session([&] { return queries.users_table_empty(); })) {
    return "guard 'users-not-empty' refused to run: the users table '" + config_.users_table +
           "' is empty, which usually means the wrong table or database. HINT: check "
           "--users-table and --database-url, or pass --allow-empty-users to run anyway";
  }
  if (config_.max_deletes < 0 && config_.max_fraction <= 0) return {};
  const std::int64_t candidates = on_session([&] { return queries.count_candidates(); });
  if (config_.max_deletes >= 0 && candidates > config_.max_deletes) {
    return fmt::format(
        "guard 'max-deletes' refused to run: this cycle would delete {} rows, more than "
        "--max-deletes {}. HINT: check what would go with --dry-run; if it is expected, raise "
        "--max-deletes (or remove it) to run anyway",
        candidates, config_.max_deletes);
  }
  if (config_.max_fraction > 0) {
    const std::int64_t total = on_session([&] { return queries.count_pending(); });
    if (total > 0 && static_cast<double>(candidates) > config_.max_fraction * total) {
      return fmt::format(
          "guard 'max-fraction' refused to run: this cycle would delete {} of the {} rows of "
          "'{}' ({:.1f}%), more than --max-fraction {} ({:.1f}%). HINT: check what would go with "
          "--dry-run; if it is expected, raise --max-fraction (or remove it) to run anyway",
          candidates, total, config_.pending_table, 100.0 * static_cast<double>(candidates) / total,
          config_.max_fraction, 100.0 * config_.max_fraction);
    }
  }
  return {};
}

bool CleanupEngine::restore_session_state(CycleReport& report) {
  if (lock_held_) {
    lock_held_ = on_session([&] { return store_->instance_lock().try_lock(); });
    if (!lock_held_) {
      const std::string warning =
          "the instance lock was lost with the connection and another instance holds it now: "
          "cycle " +
          report.cycle_id + " ends here";
      logging::logger()->warn("{}", warning);
      report.warnings.push_back(warning);
      report.interrupted = true;
      return false;
    }
  }
  if (!config_.archive_table.empty()) on_session([&] { prepare_archive(report.cycle_id); });
  return true;
}

void CleanupEngine::prepare_archive(const std::string& cycle_id) {
  auto& archive = store_->archive();
  auto facts = archive.inspect_archive();
  if (!facts.exists && facts.required_database.empty()) {
    archive.create();
    logging::logger()->info("created archive table {}", facts.name);
    facts = archive.inspect_archive();
  }
  check_archive_table(facts);
  archive.begin_cycle(cycle_id);
}

bool CleanupEngine::wait_for_replicas(CycleReport& report) {
  if (config_.max_replication_lag.count() <= 0) return true;
  bool paused = false;
  while (true) {
    const auto lag = on_session([&] { return store_->batches().replication_lag(); });
    if (lag <= config_.max_replication_lag) {
      if (paused) {
        logging::logger()->info(
            "cycle {}: replication lag {} is within --max-replication-lag {}; "
            "resuming",
            report.cycle_id, config::format_duration(lag),
            config::format_duration(config_.max_replication_lag));
      }
      return true;
    }
    if (!paused) {
      logging::logger()->info(
          "cycle {}: pausing: a standby's replay lag is {}, above --max-replication-lag {}",
          report.cycle_id, config::format_duration(lag),
          config::format_duration(config_.max_replication_lag));
      ++report.replication_pauses;
      paused = true;
    }
    if (stop_->wait_for(kLagPollInterval)) return false;
  }
}

void CleanupEngine::purge_archive(CycleReport& report) {
  if (config_.archive_table.empty() || config_.archive_retention.count() <= 0) return;
  try {
    report.archive_purged = store_->archive().purge(config_.archive_retention, config_.batch_size);
    if (report.archive_purged > 0) {
      logging::logger()->info("cycle {}: purged {} archive row(s) older than {}", report.cycle_id,
                              report.archive_purged,
                              config::format_duration(config_.archive_retention));
    }
  } catch (const DatabaseError& e) {
    if (e.kind() == ErrorKind::kRetryable) connected_ = false;
    const std::string warning = std::string("archive retention purge failed: ") + e.what();
    logging::logger()->warn("{}", warning);
    report.warnings.push_back(warning);
  }
}

void CleanupEngine::run_dry(CycleReport& report) {
  auto& queries = store_->dry_run();
  on_session([&] {
    report.candidates = queries.count_candidates();
    report.policies = queries.preview_policies();
    for (auto& email : report.policies.collision_sample) {
      email = logging::maybe_mask_email(email, config_.log_pii);
    }
    for (const auto& row : queries.sample_candidates(config_.sample_size)) {
      report.sample.push_back(
          {row.key, logging::maybe_mask_email(row.email, config_.log_pii), row.reason});
    }
  });
  log_policy_preview(config_, report);
  for (const auto& row : report.sample) {
    logging::logger()->info("would delete pending row key={} email={} ({})", row.key, row.email,
                            row.reason);
  }
}

void CleanupEngine::run_batches(CycleReport& report) {
  std::vector<double> latencies;
  on_session([&] { store_->batches().begin_pass(); });
  CancelWatchdog watchdog(*store_, *stop_, kCancelGrace);
  // The engine decides what a batch must tell about its rows: the whole rows for the archive
  // file, keys for the debug log, counts otherwise.
  const store::RowDetail detail = !config_.archive_file.empty() ? store::RowDetail::kWholeRows
                                  : logging::logger()->should_log(spdlog::level::debug)
                                      ? store::RowDetail::kKeys
                                      : store::RowDetail::kCounts;
  std::int64_t target_rows = config_.batch_size;
  auto last_progress = Clock::now();
  const auto cycle_start = Clock::now();

  while (true) {
    if (stop_->requested()) {
      report.interrupted = true;
      logging::logger()->info("stop requested: ending cycle {} between batches", report.cycle_id);
      break;
    }
    std::int64_t batch_rows = target_rows;
    if (config_.max_deletes >= 0) {
      // A hard cap: rows that appeared after the guard's count are left for the next cycle.
      const std::int64_t remaining = config_.max_deletes - report.deleted;
      if (remaining <= 0) {
        if (config_.max_deletes > 0) {
          const std::string warning = fmt::format(
              "cycle stopped at --max-deletes {}; any remaining rows are left for the next cycle",
              config_.max_deletes);
          logging::logger()->warn("{}", warning);
          report.warnings.push_back(warning);
        }
        break;
      }
      batch_rows = std::min(batch_rows, remaining);
    }
    store::BatchResult result;
    const auto batch_start = Clock::now();
    bool attempt_ok = false;
    int attempts = 0;
    while (!attempt_ok) {
      watchdog.batch_started();
      try {
        result = store_->batches().run_next_batch({std::min(batch_rows, target_rows), detail});
        watchdog.batch_finished();
        attempt_ok = true;
      } catch (const DatabaseError& e) {
        watchdog.batch_finished();
        if (stop_->requested()) {
          logging::logger()->info("batch rolled back after a stop request ({})", e.what());
          report.interrupted = true;
          break;
        }
        if (e.kind() != ErrorKind::kRetryable && e.kind() != ErrorKind::kInDoubt) throw;
        ++attempts;
        ++report.batch_retries;
        if (e.kind() == ErrorKind::kInDoubt) {
          logging::logger()->warn(
              "the commit of a batch is in doubt ({}); re-running it is safe because the "
              "DELETE re-checks every row",
              e.what());
        }
        if (attempts > std::max(0, config_.retries)) {
          if (store::sqlstate::ends_session(e)) {
            connected_ = false;
            throw ConnectionError(std::string("database connection lost and not recovered: ") +
                                  e.what());
          }
          throw;
        }
        if (store::sqlstate::is_statement_timeout(e.sqlstate())) {
          target_rows = std::max<std::int64_t>(1, target_rows / 2);
          logging::logger()->warn("batch hit the statement timeout; retrying it with {} rows",
                                  target_rows);
        }
        const auto delay = backoff_delay(attempts - 1);
        logging::logger()->warn("batch failed with a transient error ({} {}); retry {}/{} in {}",
                                e.sqlstate(), e.what(), attempts, config_.retries,
                                config::format_duration(delay));
        const auto wait_start = Clock::now();
        const bool stopped = stop_->wait_for(delay);
        report.phases.wait_ms += ms_since(wait_start);
        if (stopped) {
          report.interrupted = true;
          break;
        }
        if (store::sqlstate::ends_session(e)) {
          connected_ = false;
          connect_with_retry();
          if (!restore_session_state(report)) break;
        }
      }
    }
    if (!attempt_ok) break;
    const double batch_ms = ms_since(batch_start);
    latencies.push_back(batch_ms);
    record_batch(result, report);
    if (config_.batch_time.count() > 0) adapt_batch_size(result, batch_ms, target_rows);
    if (progress_observer_) {
      progress_observer_({report.cycle_id, result.progress, report.candidates, report.deleted,
                          report.failed, report.skipped, report.batches, ms_since(cycle_start)});
    }

    // An observer (the terminal's progress bar) replaces the periodic progress line.
    if (!progress_observer_ && Clock::now() - last_progress >= config_.progress_interval) {
      last_progress = Clock::now();
      const double seconds = ms_since(cycle_start) / 1000.0;
      logging::CountsLogScope counts({{"deleted", report.deleted},
                                      {"failed", report.failed},
                                      {"skipped", report.skipped},
                                      {"batches", report.batches}});
      logging::logger()->info(
          "progress: {:.1f}% of the table, deleted={} failed={} skipped={} rate={:.0f} rows/s",
          result.progress * 100.0, report.deleted, report.failed, report.skipped,
          seconds > 0 ? report.deleted / seconds : 0.0);
    }
    if (result.exhausted) break;
    if (!throttle(result, batch_ms, report) || !wait_for_replicas(report)) {
      report.interrupted = true;
      break;
    }
  }
  report.batch_durations_ms = latencies;
  report.batch_p50_ms = percentile(latencies, 0.50);
  report.batch_p99_ms = percentile(latencies, 0.99);
  report.batch_max_ms =
      latencies.empty() ? 0 : *std::max_element(latencies.begin(), latencies.end());
}

void CleanupEngine::adapt_batch_size(const store::BatchResult& result, double batch_ms,
                                     std::int64_t& target_rows) const {
  // Only a batch that filled most of its target says how long target_rows take.
  if (result.matched < target_rows / 2 || batch_ms <= 0) return;
  const double goal = static_cast<double>(config_.batch_time.count());
  // Move at most 2x per batch, so one slow outlier does not collapse the size.
  const double factor = std::clamp(goal / batch_ms, 0.5, 2.0);
  const auto next = static_cast<std::int64_t>(static_cast<double>(target_rows) * factor);
  target_rows = std::clamp<std::int64_t>(next, 1, kMaxAdaptiveBatch);
}

bool CleanupEngine::throttle(const store::BatchResult& result, double batch_ms,
                             CycleReport& report) {
  double pause_ms = static_cast<double>(config_.sleep_between_batches.count());
  if (config_.max_rate > 0 && result.deleted > 0) {
    // The batch may take no less than deleted / max_rate seconds, pause included.
    const double floor_ms = 1000.0 * static_cast<double>(result.deleted) / config_.max_rate;
    pause_ms = std::max(pause_ms, floor_ms - batch_ms);
  }
  if (pause_ms <= 0) return true;
  const auto start = Clock::now();
  const bool stopped =
      stop_->wait_for(std::chrono::microseconds(static_cast<long long>(pause_ms * 1000.0)));
  report.throttle_ms += ms_since(start);
  report.phases.wait_ms += ms_since(start);
  return !stopped;
}

void CleanupEngine::record_batch(const store::BatchResult& result, CycleReport& report) const {
  ++report.batches;
  report.candidates += result.matched;
  report.deleted += result.deleted;
  report.deleted_by_policy.email += result.deleted_by_policy.email;
  report.deleted_by_policy.phone += result.deleted_by_policy.phone;
  report.deleted_by_policy.expired += result.deleted_by_policy.expired;
  report.skipped += result.skipped;
  report.no_longer_matching += result.no_longer_matching;
  report.failed += static_cast<std::int64_t>(result.failures.size());
  report.phases.find_ms += result.timings.find_ms;
  report.phases.delete_ms += result.timings.delete_ms;
  report.phases.commit_ms += result.timings.commit_ms;
  report.phases.archive_ms += result.timings.archive_ms;
  report.phases.wait_ms += result.timings.wait_ms;
  log_batch_events(result);
  auto log = logging::logger();
  if (log->should_log(spdlog::level::debug)) {
    log->debug("batch {}: matched={} deleted={} skipped={} failed={}", report.batches,
               result.matched, result.deleted, result.skipped, result.failures.size());
    for (const auto& row : result.deleted_rows) {
      log->debug("deleted pending row key={} email={} reason={}", row.key,
                 logging::maybe_mask_email(row.email, config_.log_pii), row.reason);
    }
  }
  for (const auto& failure : result.failures) {
    const auto email = logging::maybe_mask_email(failure.row.email, config_.log_pii);
    // The database's message may quote the email (a foreign key's DETAIL does): mask it there too.
    std::string message = failure.message;
    if (!config_.log_pii && !failure.row.email.empty()) {
      for (auto pos = message.find(failure.row.email); pos != std::string::npos;
           pos = message.find(failure.row.email, pos + email.size())) {
        message.replace(pos, failure.row.email.size(), email);
      }
    }
    log->warn("could not delete pending row key={} email={}: SQLSTATE {}: {}", failure.row.key,
              email, failure.sqlstate, message);
    if (report.failures.size() < kMaxReportedFailures) {
      report.failures.push_back({failure.row.key, email, failure.sqlstate, message});
    }
  }
}

}  // namespace batch_cleanup::engine
