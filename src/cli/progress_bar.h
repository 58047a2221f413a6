// The live progress bar a cycle shows on a terminal (stderr):
//   [##########..........]  52.3%  deleted 12,345  failed 0  skipped 2  4,210 rows/s  ETA 0:03
#pragma once

#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>

#include "batch_cleanup/report.h"

namespace batch_cleanup::cli {

// One line of progress for `progress` (no terminal control characters). ETA comes from the
// share of the table covered so far; "ETA --" until it can be estimated.
std::string render_progress_line(const CycleProgress& progress, int bar_width = 24);

// Redraws the line in place ("\r...\x1b[K") at most every 100 ms. Thread-safe.
class ProgressBar {
 public:
  explicit ProgressBar(std::FILE* out) : out_(out) {}
  void update(const CycleProgress& progress);
  // Ends the line of the current cycle, if one was drawn.
  void finish();

 private:
  std::FILE* out_;
  std::mutex mutex_;
  std::string cycle_id_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace batch_cleanup::cli
