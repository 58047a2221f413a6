// What differs between the cycle's one lane and a worker's: who keeps the lock, who paces the
// batches, how a lane waits and reconnects, and how its progress is told.
#include <algorithm>

#include "engine/batch_lane.h"
#include "engine/engine_support.h"
#include "log/log_context.h"

namespace batch_cleanup::engine {

void ProgressReporter::tell(const CycleReport& totals, double fraction) {
  if (observer_) {
    observer_({totals.cycle_id, fraction, totals.candidates, totals.deleted, totals.failed,
               totals.skipped, totals.batches, ms_since(start_)});
    return;  // an observer (the terminal's progress bar) replaces the periodic progress line
  }
  if (Clock::now() - last_line_ < config_.progress_interval) return;
  last_line_ = Clock::now();
  const double seconds = ms_since(start_) / 1000.0;
  logging::CountsLogScope counts({{"deleted", totals.deleted},
                                  {"failed", totals.failed},
                                  {"skipped", totals.skipped},
                                  {"batches", totals.batches}});
  logging::logger()->info(
      "progress: {:.1f}% of the table, deleted={} failed={} skipped={} rate={:.0f} rows/s",
      fraction * 100.0, totals.deleted, totals.failed, totals.skipped,
      seconds > 0 ? static_cast<double>(totals.deleted) / seconds : 0.0);
}

bool BatchLane::reconnect() {
  connected = false;
  if (!connect_again()) return false;
  if (!config_.archive_table.empty()) {
    on_connection(connected, [&] { prepare_archive(store, report.cycle_id); });
  }
  return !ended();
}

SoloLane::SoloLane(const CleanupConfig& config, EngineSession& session, CycleReport& cycle_report,
                   ProgressReporter& reporter)
    : BatchLane(config, session.store(), session.connected(), cycle_report),
      session_(session),
      progress_(reporter) {}

void SoloLane::record(const store::BatchResult& result,
                      const std::function<void(CycleReport&)>& add) {
  progress = result.progress;
  add(report);
  progress_.tell(report, progress);
}

bool SoloLane::pace(const store::BatchResult& result, double batch_ms) {
  double pause_ms = static_cast<double>(config_.sleep_between_batches.count());
  if (config_.max_rate > 0 && result.deleted > 0) {
    // The batch may take no less than deleted / max_rate seconds, pause included.
    const double floor_ms = 1000.0 * static_cast<double>(result.deleted) / config_.max_rate;
    pause_ms = std::max(pause_ms, floor_ms - batch_ms);
  }
  if (pause_ms <= 0) return true;
  const auto start = Clock::now();
  bool lock_lost = false;
  const bool stopped = session_.wait_holding_lock(
      std::chrono::microseconds(static_cast<long long>(pause_ms * 1000.0)), report, lock_lost);
  report.throttle_ms += ms_since(start);
  report.phases.wait_ms += ms_since(start);
  return !stopped && !lock_lost;
}

bool SoloLane::wait(Clock::duration duration, bool& lock_lost) {
  return session_.wait_holding_lock(duration, report, lock_lost);
}

void SoloLane::lose_lock(std::string_view why, std::string_view then) {
  session_.lost_lock(report, why, then);
}

bool SoloLane::connect_again() {
  session_.connect();
  return session_.keep_lock(report, /*now=*/true);
}

bool WorkerLane::start_batch(std::int64_t reserved) {
  double waited_ms = 0;
  if (!crew_.ledger.start_batch(session_.stop(), waited_ms)) {
    crew_.ledger.release(reserved);
    report.interrupted = true;
    return false;
  }
  report.throttle_ms += waited_ms;
  report.phases.wait_ms += waited_ms;
  return true;
}

void WorkerLane::record(const store::BatchResult& result,
                        const std::function<void(CycleReport&)>& add) {
  std::lock_guard lock(crew_.report_mutex);
  progress = result.progress;
  add(report);
  published = report;
  // Every lane's published tally and progress change only while the mutex is held.
  CycleReport totals;
  totals.cycle_id = report.cycle_id;
  double fraction = 0;
  for (const BatchLane* lane : crew_.lanes) {
    static_cast<Tally&>(totals) += lane->published;
    fraction += lane->progress;
  }
  crew_.progress.tell(totals, fraction / static_cast<double>(crew_.lanes.size()));
}

bool WorkerLane::wait(Clock::duration duration, bool& lock_lost) {
  // The session keeps the lock; the wait ends early when the cycle does.
  const auto end = Clock::now() + duration;
  while (Clock::now() < end) {
    const auto chunk =
        std::min<Clock::duration>(end - Clock::now(), std::chrono::milliseconds(100));
    if (session_.stop().wait_for(chunk)) return true;
    if (crew_.ledger.aborted()) {
      lock_lost = true;
      return false;
    }
  }
  return false;
}

void WorkerLane::lose_lock(std::string_view why, std::string_view then) {
  crew_.ledger.abort();
  report_lost_lock(report, why, then);
}

bool WorkerLane::connect_again() {
  session_.connect_store(store, connected);
  return true;
}

}  // namespace batch_cleanup::engine
