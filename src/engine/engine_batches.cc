// The batches of a cycle: the loop, retries of a batch, in-doubt commits, throttling, the
// replicas, and what each batch adds to the report.
#include <fmt/format.h>

#include <cmath>

#include "batch_cleanup/errors.h"
#include "config/duration.h"
#include "engine/cancel_watchdog.h"
#include "engine/cycle_log.h"
#include "engine/engine_support.h"
#include "log/log_context.h"
#include "log/mask.h"

namespace batch_cleanup::engine {

void CleanupEngine::run_batches(CycleReport& report) {
  std::vector<double> latencies;
  with_retries([&] { store_->batches().begin_pass(); });
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
  // Whatever ends the loop (a stop, an error), the report keeps every committed batch.
  struct Percentiles {
    CycleReport& report;
    std::vector<double>& latencies;
    ~Percentiles() {
      report.batch_durations_ms = latencies;
      report.batch_p50_ms = percentile(latencies, 0.50);
      report.batch_p99_ms = percentile(latencies, 0.99);
      report.batch_max_ms =
          latencies.empty() ? 0 : *std::max_element(latencies.begin(), latencies.end());
    }
  } percentiles{report, latencies};

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
    if (!keep_lock(report)) break;
    store::BatchResult result;
    const auto batch_start = Clock::now();
    if (!run_one_batch(batch_rows, detail, watchdog, target_rows, report, result)) break;
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
}

bool CleanupEngine::run_one_batch(std::int64_t rows, store::RowDetail detail,
                                  CancelWatchdog& watchdog, std::int64_t& target_rows,
                                  CycleReport& report, store::BatchResult& result) {
  const bool track_lsn =
      config_.max_replication_lag.count() > 0 || config_.max_replication_lag_bytes > 0;
  int attempts = 0;
  while (true) {
    watchdog.batch_started();
    try {
      result = store_->batches().run_next_batch({std::min(rows, target_rows), detail, track_lsn});
      watchdog.batch_finished();
      return true;
    } catch (const DatabaseError& e) {
      watchdog.batch_finished();
      if (stop_->requested()) {
        logging::logger()->info("batch rolled back after a stop request ({})", e.what());
        report.interrupted = true;
        return false;
      }
      if (e.sqlstate() == store::sqlstate::kLeaseLost) {
        lock_held_ = false;
        const std::string warning = std::string(e.what()) + ": cycle " + report.cycle_id +
                                    " ends here; its batch rolled back";
        logging::logger()->warn("{}", warning);
        report.warnings.push_back(warning);
        report.interrupted = true;
        return false;
      }
      if (e.kind() != ErrorKind::kRetryable && e.kind() != ErrorKind::kInDoubt) throw;
      // A statement timeout is answered with a smaller batch, down to one row: that is not a
      // retry of the same work, and does not use up --retries.
      const bool timed_out = store::sqlstate::is_statement_timeout(e.sqlstate());
      if (timed_out && target_rows > 1) {
        target_rows = std::max<std::int64_t>(1, target_rows / 2);
        logging::logger()->warn("batch hit the statement timeout; running it again with {} rows",
                                target_rows);
        if (!store::sqlstate::ends_session(e)) continue;
      } else {
        ++attempts;
        ++report.batch_retries;
      }
      if (attempts > std::max(0, config_.retries)) {
        if (store::sqlstate::ends_session(e)) {
          connected_ = false;
          throw ConnectionError(std::string("database connection lost and not recovered: ") +
                                e.what());
        }
        throw;
      }
      if (!timed_out || store::sqlstate::ends_session(e)) {
        const auto delay = backoff_delay(std::max(0, attempts - 1));
        logging::logger()->warn("batch failed with a transient error ({} {}); retry {}/{} in {}",
                                e.sqlstate(), e.what(), attempts, config_.retries,
                                config::format_duration(delay));
        const auto wait_start = Clock::now();
        bool lock_lost = false;
        const bool stopped = wait_holding_lock(delay, report, lock_lost);
        report.phases.wait_ms += ms_since(wait_start);
        if (stopped || lock_lost) {
          report.interrupted = true;
          return false;
        }
      }
      if (store::sqlstate::ends_session(e)) {
        connected_ = false;
        connect_with_retry();
        if (!restore_session_state(report)) return false;
      }
      if (e.kind() == ErrorKind::kInDoubt) {
        const auto outcome = on_session([&] { return store_->batches().resolve_in_doubt(); });
        using State = store::InDoubtOutcome::State;
        if (outcome.state == State::kCommitted) {
          logging::logger()->warn(
              "the commit of a batch was in doubt ({}); the database says it committed: its "
              "{} row(s) count",
              e.what(), outcome.result.deleted);
          result = outcome.result;
          return true;
        }
        if (outcome.state == State::kUnknown) {
          logging::logger()->warn(
              "the commit of a batch was in doubt ({}) and the database cannot tell any more: "
              "running it again (safe: the DELETE re-checks every row); rows it deleted are not "
              "counted",
              e.what());
        } else {
          logging::logger()->warn(
              "the commit of a batch was in doubt ({}); the database says it rolled back: running "
              "it again",
              e.what());
        }
      }
    }
  }
}

bool CleanupEngine::wait_for_replicas(CycleReport& report) {
  const auto max_time = config_.max_replication_lag;
  const auto max_bytes = config_.max_replication_lag_bytes;
  if (max_time.count() <= 0 && max_bytes <= 0) return true;
  bool paused = false;
  while (true) {
    const auto lag = on_session([&] { return store_->batches().replication_lag(); });
    const bool too_late = max_time.count() > 0 && lag.time > max_time;
    const bool too_far = max_bytes > 0 && lag.bytes > max_bytes;
    if (!too_late && !too_far) {
      if (paused) {
        logging::logger()->info(
            "cycle {}: the standbys replayed the cycle's commits (behind: {} bytes, {}); resuming",
            report.cycle_id, lag.bytes, config::format_duration(lag.time));
      }
      return true;
    }
    if (!paused) {
      logging::logger()->info(
          "cycle {}: pausing: a standby has not replayed the cycle's last commit: {} bytes of WAL "
          "behind (limit {}), for {} (limit {})",
          report.cycle_id, lag.bytes, max_bytes > 0 ? std::to_string(max_bytes) : "none",
          config::format_duration(lag.time),
          max_time.count() > 0 ? config::format_duration(max_time) : "none");
      ++report.replication_pauses;
      paused = true;
    }
    bool lock_lost = false;
    if (wait_holding_lock(kLagPollInterval, report, lock_lost) || lock_lost) return false;
  }
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
  bool lock_lost = false;
  const bool stopped = wait_holding_lock(
      std::chrono::microseconds(static_cast<long long>(pause_ms * 1000.0)), report, lock_lost);
  report.throttle_ms += ms_since(start);
  report.phases.wait_ms += ms_since(start);
  return !stopped && !lock_lost;
}

void CleanupEngine::record_batch(const store::BatchResult& result, CycleReport& report) const {
  ++report.batches;
  report.candidates += result.matched;
  report.deleted += result.deleted;
  report.deleted_by_policy += result.deleted_by_policy;
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
