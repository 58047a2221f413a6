// The live progress bar a cycle shows on a terminal (stderr):
//   [##########..........]  52.3%  deleted 12,345  failed 0  skipped 2  4,210 rows/s  ETA 0:03
#pragma once

#include <spdlog/sinks/sink.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

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
  // Ends the line of the current cycle, if one was drawn; the next update starts a new cycle.
  void finish();
  // Ends the line drawn last, if it is still open, so that other output (a log line) starts on
  // a line of its own; the next update draws the bar again below it.
  void end_line();

 private:
  std::FILE* out_;
  std::mutex mutex_;
  std::string cycle_id_;
  bool line_open_ = false;  // a frame was drawn and its line is not ended yet
  std::chrono::steady_clock::time_point last_draw_{};
};

// A log sink to put before the logger's terminal sink: before each record it ends the open line
// of every bar (ProgressBar::end_line), so that no log line is glued to a frame. The bars must
// outlive the sink's use.
std::shared_ptr<spdlog::sinks::sink> make_line_ending_sink(std::vector<ProgressBar*> bars);

}  // namespace batch_cleanup::cli
