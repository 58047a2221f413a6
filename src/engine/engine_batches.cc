// The batches of a cycle: the loop, retries of a batch, in-doubt commits, throttling, the
// replicas, and what each batch adds to the report.
#include <fmt/format.h>

#include <cmath>

#include "batch_cleanup/errors.h"
#include "config/duration.h"
#include "engine/batch_tally.h"
#include "engine/cancel_watchdog.h"
#include "engine/cycle_log.h"
#include "engine/engine_support.h"
#include "log/log_context.h"
#include "log/mask.h"

namespace batch_cleanup::engine {

namespace {

// Whatever ends the batches (a stop, an error), the report keeps every committed batch's time.
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
};

}  // namespace

store::RowDetail CleanupEngine::row_detail() const {
  // The engine decides what a batch must tell about its rows: the whole rows for the archive
  // file, keys for the debug log, counts otherwise.
  return !config_.archive_file.empty()                         ? store::RowDetail::kWholeRows
         : logging::logger()->should_log(spdlog::level::debug) ? store::RowDetail::kKeys
                                                               : store::RowDetail::kCounts;
}

void CleanupEngine::run_batches(CycleReport& report) {
  if (config_.workers > 1) {
    const std::string token = store_->instance_lock().share_token();
    if (!token.empty()) {
      run_workers(report, token);
      return;
    }
    if (!workers_warned_) {
      logging::logger()->warn(
          "--workers {}: the instance lock here is {}, which other connections cannot prove; "
          "cycles run on one connection (the lease table makes workers possible: see "
          "--lease-table)",
          config_.workers, store_->instance_lock().describe());
      workers_warned_ = true;
    }
  }
  BatchLane lane(*store_, connected_, report);
  Percentiles percentiles{report, lane.latencies};
  with_retries([&] { store_->batches().begin_pass(); });
  run_lane(lane, Clock::now());
}

void CleanupEngine::run_lane(BatchLane& lane, Clock::time_point cycle_start) {
  CycleReport& report = lane.report;
  CycleLedger* ledger = lane.ledger;
  CancelWatchdog watchdog(lane.store, *stop_, kCancelGrace);
  const store::RowDetail detail = row_detail();
  std::int64_t target_rows = config_.batch_size;
  auto last_progress = Clock::now();

  while (true) {
    if (stop_->requested() || (ledger && ledger->aborted())) {
      report.interrupted = true;
      if (stop_->requested()) {
        logging::logger()->info("stop requested: ending cycle {} between batches", report.cycle_id);
      }
      break;
    }
    std::int64_t batch_rows = target_rows;
    std::int64_t budget = 0;  // with --max-deletes: the most this batch may delete
    if (config_.max_deletes >= 0) {
      // A hard cap: rows that appeared after the guard's count are left for the next cycle.
      budget = ledger ? ledger->reserve(target_rows) : config_.max_deletes - report.deleted;
      if (budget <= 0) {
        if (config_.max_deletes > 0 && !(ledger && ledger->aborted())) {
          const std::string warning = fmt::format(
              "cycle stopped at --max-deletes {}; any remaining rows are left for the next cycle",
              config_.max_deletes);
          logging::logger()->warn("{}", warning);
          report.warnings.push_back(warning);
        }
        break;
      }
      batch_rows = std::min(batch_rows, budget);
    }
    if (!ledger && !keep_lock(report)) break;
    if (ledger) {
      double waited_ms = 0;
      if (!ledger->start_batch(*stop_, waited_ms)) {
        ledger->release(budget);
        report.interrupted = true;
        break;
      }
      report.throttle_ms += waited_ms;
      report.phases.wait_ms += waited_ms;
    }
    store::BatchResult result;
    const auto run_start = Clock::now();
    bool committed = false;
    try {
      committed = run_one_batch(lane, batch_rows, budget, detail, watchdog, target_rows, result);
    } catch (...) {
      if (ledger) ledger->finish_batch(run_start, budget, 0, false);
      throw;
    }
    if (ledger) ledger->finish_batch(run_start, budget, committed ? result.deleted : 0, committed);
    if (!committed) break;
    const double batch_ms = ms_since(run_start);
    lane.latencies.push_back(batch_ms);
    if (config_.batch_time.count() > 0) adapt_batch_size(result, batch_ms, target_rows);
    if (ledger) {
      std::lock_guard lock(ledger->report_mutex());
      lane.progress = result.progress;
      record_batch(result, report);
      report_progress(cycle_start);
    } else {
      record_batch(result, report);
      report_lane_progress(report, result.progress, cycle_start, last_progress);
    }
    if (result.exhausted) break;
    if (!ledger && !throttle(result, batch_ms, report)) {
      report.interrupted = true;
      break;
    }
    if (!wait_for_replicas(lane)) {
      report.interrupted = true;
      break;
    }
  }
}

void CleanupEngine::report_lane_progress(const CycleReport& totals, double progress,
                                         Clock::time_point cycle_start,
                                         Clock::time_point& last_progress) {
  if (progress_observer_) {
    progress_observer_({totals.cycle_id, progress, totals.candidates, totals.deleted, totals.failed,
                        totals.skipped, totals.batches, ms_since(cycle_start)});
    return;  // an observer (the terminal's progress bar) replaces the periodic progress line
  }
  if (Clock::now() - last_progress < config_.progress_interval) return;
  last_progress = Clock::now();
  const double seconds = ms_since(cycle_start) / 1000.0;
  logging::CountsLogScope counts({{"deleted", totals.deleted},
                                  {"failed", totals.failed},
                                  {"skipped", totals.skipped},
                                  {"batches", totals.batches}});
  logging::logger()->info(
      "progress: {:.1f}% of the table, deleted={} failed={} skipped={} rate={:.0f} rows/s",
      progress * 100.0, totals.deleted, totals.failed, totals.skipped,
      seconds > 0 ? static_cast<double>(totals.deleted) / seconds : 0.0);
}

bool CleanupEngine::run_one_batch(BatchLane& lane, std::int64_t rows, std::int64_t max_rows,
                                  store::RowDetail detail, CancelWatchdog& watchdog,
                                  std::int64_t& target_rows, store::BatchResult& result) {
  CycleReport& report = lane.report;
  const bool track_lsn =
      config_.max_replication_lag.count() > 0 || config_.max_replication_lag_bytes > 0;
  int attempts = 0;
  while (true) {
    watchdog.batch_started();
    try {
      result = lane.store.batches().run_next_batch(
          {std::min(rows, target_rows), detail, track_lsn, max_rows});
      watchdog.batch_finished();
      return true;
    } catch (const DatabaseError& e) {
      watchdog.batch_finished();
      if (stop_->requested()) {
        logging::logger()->info("batch rolled back after a stop request ({})", e.what());
        report.interrupted = true;
        return false;
      }
      if (e.cause() == ErrorCause::kLeaseLost) {
        if (lane.ledger) {
          lane.ledger->abort();
        } else {
          lock_held_ = false;
        }
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
      const bool timed_out = e.cause() == ErrorCause::kStatementTimeout;
      if (timed_out && target_rows > 1) {
        target_rows = std::max<std::int64_t>(1, target_rows / 2);
        logging::logger()->warn("batch hit the statement timeout; running it again with {} rows",
                                target_rows);
        if (!e.ends_session()) continue;
      } else {
        ++attempts;
        ++report.batch_retries;
      }
      if (attempts > std::max(0, config_.retries)) {
        if (e.ends_session()) {
          lane.connected = false;
          throw ConnectionError(std::string("database connection lost and not recovered: ") +
                                e.what());
        }
        throw;
      }
      if (!timed_out || e.ends_session()) {
        const auto delay = backoff_delay(std::max(0, attempts - 1));
        logging::logger()->warn("batch failed with a transient error ({} {}); retry {}/{} in {}",
                                e.code(), e.what(), attempts, config_.retries,
                                config::format_duration(delay));
        const auto wait_start = Clock::now();
        bool lock_lost = false;
        const bool stopped = lane_wait(lane, delay, lock_lost);
        report.phases.wait_ms += ms_since(wait_start);
        if (stopped || lock_lost) {
          report.interrupted = true;
          return false;
        }
      }
      if (e.ends_session() && !reconnect_lane(lane)) return false;
      if (e.kind() == ErrorKind::kInDoubt) {
        const auto outcome =
            on_connection(lane.connected, [&] { return lane.store.batches().resolve_in_doubt(); });
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

bool CleanupEngine::lane_wait(BatchLane& lane, Clock::duration duration, bool& lock_lost) {
  if (!lane.ledger) return wait_holding_lock(duration, lane.report, lock_lost);
  // A worker: the coordinator keeps the lock; the wait ends early when the cycle does.
  const auto end = Clock::now() + duration;
  while (Clock::now() < end) {
    const auto chunk =
        std::min<Clock::duration>(end - Clock::now(), std::chrono::milliseconds(100));
    if (stop_->wait_for(chunk)) return true;
    if (lane.ledger->aborted()) {
      lock_lost = true;
      return false;
    }
  }
  return false;
}

bool CleanupEngine::reconnect_lane(BatchLane& lane) {
  lane.connected = false;
  if (!lane.ledger) {
    connect_with_retry();
    return restore_session_state(lane.report);
  }
  connect_store(lane.store, lane.connected);
  if (!config_.archive_table.empty()) {
    on_connection(lane.connected, [&] { prepare_archive(lane.store, lane.report.cycle_id); });
  }
  return !lane.ledger->aborted();
}

bool CleanupEngine::wait_for_replicas(BatchLane& lane) {
  CycleReport& report = lane.report;
  const auto max_time = config_.max_replication_lag;
  const auto max_bytes = config_.max_replication_lag_bytes;
  if (max_time.count() <= 0 && max_bytes <= 0) return true;
  bool paused = false;
  while (true) {
    const auto lag =
        on_connection(lane.connected, [&] { return lane.store.batches().replication_lag(); });
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
    if (lane_wait(lane, kLagPollInterval, lock_lost) || lock_lost) return false;
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
  report += batch_tally(result);
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
    // The database's message may quote the email (a foreign key's DETAIL does) or another
    // address (a trigger's message): masked there too.
    std::string message = failure.message;
    if (!config_.log_pii && !failure.row.email.empty()) {
      for (auto pos = message.find(failure.row.email); pos != std::string::npos;
           pos = message.find(failure.row.email, pos + email.size())) {
        message.replace(pos, failure.row.email.size(), email);
      }
    }
    message = logging::maybe_mask_emails_in(message, config_.log_pii);
    log->warn("could not delete pending row key={} email={}: SQLSTATE {}: {}", failure.row.key,
              email, failure.sqlstate, message);
    if (report.failures.size() < kMaxReportedFailures) {
      report.failures.push_back({failure.row.key, email, failure.sqlstate, message});
    }
  }
}

}  // namespace batch_cleanup::engine
