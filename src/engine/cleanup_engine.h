// The cleanup engine: one cycle = connect (with retries), preflight (first cycle), then batches
// until the pending table is covered, a stop is requested, or a fatal error occurs.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "batch_cleanup/config.h"
#include "batch_cleanup/report.h"
#include "engine/stop_flag.h"
#include "store/cleanup_store.h"

namespace batch_cleanup::engine {

// Not thread-safe: one thread runs cycles; StopFlag::request() may come from any thread.
class CleanupEngine {
 public:
  CleanupEngine(CleanupConfig config, std::unique_ptr<store::CleanupStore> store,
                std::shared_ptr<StopFlag> stop);

  // Runs one cycle. Throws ConfigError/GuardError (exit 2), ConnectionError (exit 3) and
  // DatabaseError (fatal); row failures are reported, not thrown. A stop request ends the
  // cycle after the batch in flight (report.interrupted).
  CycleReport run_cycle();

  // Connects with exponential backoff and full jitter: 1 + config.retries attempts. Throws
  // ConnectionError when every attempt failed, or as soon as a stop is requested.
  void connect_with_retry();

 private:
  void run_batches(CycleReport& report);
  void run_dry(CycleReport& report);
  void record_batch(const store::BatchResult& result, CycleReport& report);
  // --batch-time: scales target_rows towards the target batch duration.
  void adapt_batch_size(const store::BatchResult& result, double batch_ms,
                        std::int64_t& target_rows);
  // --sleep / --max-rate: pauses after a batch. Returns false when a stop arrived meanwhile.
  bool throttle(const store::BatchResult& result, double batch_ms, CycleReport& report);
  std::chrono::milliseconds backoff_delay(int attempt);

  CleanupConfig config_;
  std::unique_ptr<store::CleanupStore> store_;
  std::shared_ptr<StopFlag> stop_;
  bool connected_ = false;
  bool preflight_done_ = false;
  std::string strategy_;
  std::vector<std::string> preflight_warnings_;
};

}  // namespace batch_cleanup::engine
