// What the workers of a cycle share: the --max-deletes budget, the pacing (--sleep,
// --max-rate as one clock), the lease's renewal gate, and whether the cycle was aborted.
// Internal to src/engine.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace batch_cleanup::engine {

class StopFlag;

// Thread-safe: what the workers of a cycle share.
class CycleLedger {
 public:
  using Clock = std::chrono::steady_clock;

  CycleLedger(std::int64_t max_deletes, std::chrono::milliseconds sleep, double max_rate)
      : max_deletes_(max_deletes), sleep_(sleep), max_rate_(max_rate), rate_clock_(Clock::now()) {}

  // --max-deletes: rows the next batch may delete (up to `wanted`), reserved until
  // finish_batch(). Waits while every row left is reserved by batches in flight; 0: the budget
  // is spent. Without --max-deletes, `wanted`.
  std::int64_t reserve(std::int64_t wanted);
  // Returns a reservation that no batch used (the lane ends before its batch started).
  void release(std::int64_t reserved);
  // Waits until a batch may start: --sleep after the cycle's last batch, --max-rate over the
  // cycle's deletions, no lease renewal waiting. False when the cycle ends (a stop, an abort).
  // `waited_ms`: the time spent for --sleep and --max-rate.
  bool start_batch(const StopFlag& stop, double& waited_ms);
  // The batch that started at `started` ended: committed `deleted` rows, or did not commit.
  // Returns the reservation.
  void finish_batch(Clock::time_point started, std::int64_t reserved, std::int64_t deleted,
                    bool committed);
  // The coordinator renews the lease between the workers' batches (their FOR SHARE locks on
  // the lease row would make it wait): no batch starts until end_renewal().
  void begin_renewal();
  void end_renewal();

  // Ends every lane after the batch in flight.
  void abort();
  bool aborted() const;
  // Lanes that have not ended.
  void lane_started();
  void lane_ended();
  // Waits up to `duration` for every lane to end; true when they have.
  bool wait_lanes(std::chrono::milliseconds duration);

  // Serialises what lanes do to shared state (the report sums, the progress observer).
  std::mutex& report_mutex() { return report_mutex_; }

 private:
  const std::int64_t max_deletes_;
  const std::chrono::milliseconds sleep_;
  const double max_rate_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::int64_t deleted_ = 0;
  std::int64_t reserved_ = 0;
  int in_flight_ = 0;
  int lanes_ = 0;
  bool renewing_ = false;
  bool aborted_ = false;
  Clock::time_point rate_clock_;     // --max-rate: deletions so far allow no batch before this
  Clock::time_point sleep_until_{};  // --sleep: after the last batch
  std::mutex report_mutex_;
};

}  // namespace batch_cleanup::engine
