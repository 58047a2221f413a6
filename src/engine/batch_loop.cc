// The batch loop (batch_loop.h): a lane's batches, retries of a batch, in-doubt commits, the
// replicas, and what each batch adds to the report.
#include "engine/batch_loop.h"

#include <fmt/format.h>

#include <algorithm>

#include "batch_cleanup/errors.h"
#include "config/duration.h"
#include "engine/batch_tally.h"
#include "engine/cancel_watchdog.h"
#include "engine/cycle_log.h"
#include "engine/engine_support.h"
#include "log/log_context.h"
#include "log/mask.h"

namespace batch_cleanup::engine {

void set_batch_durations(CycleReport& report, std::vector<double> durations_ms) {
  report.batch_p50_ms = percentile(durations_ms, 0.50);
  report.batch_p99_ms = percentile(durations_ms, 0.99);
  report.batch_max_ms =
      durations_ms.empty() ? 0 : *std::max_element(durations_ms.begin(), durations_ms.end());
  report.batch_durations_ms = std::move(durations_ms);
}

store::RowDetail BatchLoop::row_detail() const {
  // The engine decides what a batch must tell about its rows: the whole rows for the archive
  // file, keys for the debug log, counts otherwise.
  return !config_.archive_file.empty()                         ? store::RowDetail::kWholeRows
         : logging::logger()->should_log(spdlog::level::debug) ? store::RowDetail::kKeys
                                                               : store::RowDetail::kCounts;
}

void BatchLoop::run(BatchLane& lane) const {
  CycleReport& report = lane.report;
  StopFlag& stop = session_.stop();
  CancelWatchdog watchdog(lane.store, stop, kCancelGrace);
  const store::RowDetail detail = row_detail();
  std::int64_t target_rows = config_.batch_size;

  while (true) {
    if (stop.requested() || lane.ended()) {
      report.interrupted = true;
      if (stop.requested()) {
        logging::logger()->info("stop requested: ending cycle {} between batches", report.cycle_id);
      }
      break;
    }
    std::int64_t batch_rows = target_rows;
    std::int64_t budget = 0;  // with --max-deletes: the most this batch may delete
    if (config_.max_deletes >= 0) {
      // A hard cap: rows that appeared after the guard's count are left for the next cycle.
      budget = lane.reserve(target_rows);
      if (budget <= 0) {
        if (config_.max_deletes > 0 && !lane.ended()) {
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
    if (!lane.start_batch(budget)) break;
    store::BatchResult result;
    const auto run_start = Clock::now();
    bool committed = false;
    try {
      committed = run_one_batch(lane, batch_rows, budget, detail, watchdog, target_rows, result);
    } catch (...) {
      lane.finish_batch(run_start, budget, 0, false);
      throw;
    }
    lane.finish_batch(run_start, budget, committed ? result.deleted : 0, committed);
    if (!committed) break;
    const double batch_ms = ms_since(run_start);
    lane.latencies.push_back(batch_ms);
    if (config_.batch_time.count() > 0) adapt_batch_size(result, batch_ms, target_rows);
    lane.record(result, [&](CycleReport& into) { record_batch(result, into); });
    if (result.exhausted) break;
    if (!lane.pace(result, batch_ms) || !wait_for_replicas(lane)) {
      report.interrupted = true;
      break;
    }
  }
}

bool BatchLoop::run_one_batch(BatchLane& lane, std::int64_t rows, std::int64_t max_rows,
                              store::RowDetail detail, CancelWatchdog& watchdog,
                              std::int64_t& target_rows, store::BatchResult& result) const {
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
      if (session_.stop().requested()) {
        logging::logger()->info("batch rolled back after a stop request ({})", e.what());
        report.interrupted = true;
        return false;
      }
      if (e.cause() == ErrorCause::kLeaseLost) {
        lane.lose_lock(e.what(), "; its batch rolled back");
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
        const auto delay = session_.backoff_delay(std::max(0, attempts - 1));
        logging::logger()->warn("batch failed with a transient error ({} {}); retry {}/{} in {}",
                                e.code(), e.what(), attempts, config_.retries,
                                config::format_duration(delay));
        const auto wait_start = Clock::now();
        bool lock_lost = false;
        const bool stopped = lane.wait(delay, lock_lost);
        report.phases.wait_ms += ms_since(wait_start);
        if (stopped || lock_lost) {
          report.interrupted = true;
          return false;
        }
      }
      if (e.ends_session() && !lane.reconnect()) return false;
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

// A Galera cluster is held while flow control paused it since the previous reading, or while
// this node's receive queue is at half the length that makes it ask for a pause.
bool galera_held(const store::ReplicationLag& lag) {
  return lag.galera && (lag.flow_control_paused.count() > 0 ||
                        (lag.recv_queue_limit > 0 && lag.recv_queue * 2 >= lag.recv_queue_limit));
}

bool BatchLoop::wait_for_replicas(BatchLane& lane) const {
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
    const bool held = galera_held(lag);
    if (!too_late && !too_far && !held) {
      if (paused && lag.galera) {
        logging::logger()->info("cycle {}: flow control released the Galera cluster; resuming",
                                report.cycle_id);
      } else if (paused) {
        logging::logger()->info(
            "cycle {}: the standbys replayed the cycle's commits (behind: {} bytes, {}); resuming",
            report.cycle_id, lag.bytes, config::format_duration(lag.time));
      }
      return true;
    }
    if (!paused && held) {
      logging::logger()->info(
          "cycle {}: pausing: Galera flow control held the cluster for {} since the last "
          "reading; this node's receive queue holds {} write set(s) (flow control starts at {})",
          report.cycle_id, config::format_duration(lag.flow_control_paused), lag.recv_queue,
          lag.recv_queue_limit);
      ++report.replication_pauses;
      paused = true;
    } else if (!paused) {
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
    if (lane.wait(kLagPollInterval, lock_lost) || lock_lost) return false;
  }
}

void BatchLoop::adapt_batch_size(const store::BatchResult& result, double batch_ms,
                                 std::int64_t& target_rows) const {
  // Only a batch that filled most of its target says how long target_rows take.
  if (result.matched < target_rows / 2 || batch_ms <= 0) return;
  const double goal = static_cast<double>(config_.batch_time.count());
  // Move at most 2x per batch, so one slow outlier does not collapse the size.
  const double factor = std::clamp(goal / batch_ms, 0.5, 2.0);
  const auto next = static_cast<std::int64_t>(static_cast<double>(target_rows) * factor);
  target_rows = std::clamp<std::int64_t>(next, 1, kMaxAdaptiveBatch);
}

void BatchLoop::record_batch(const store::BatchResult& result, CycleReport& report) const {
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
