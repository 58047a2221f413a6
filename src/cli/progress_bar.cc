#include "cli/progress_bar.h"

#include <fmt/format.h>
#include <spdlog/sinks/base_sink.h>

#include <algorithm>
#include <cmath>

namespace batch_cleanup::cli {
namespace {

std::string grouped(std::int64_t value) {
  std::string digits = std::to_string(value < 0 ? -value : value);
  for (int pos = static_cast<int>(digits.size()) - 3; pos > 0; pos -= 3) {
    digits.insert(static_cast<std::size_t>(pos), ",");
  }
  return (value < 0 ? "-" : "") + digits;
}

std::string clock_text(double seconds) {
  const auto total = static_cast<long long>(std::llround(seconds));
  if (total >= 3600)
    return fmt::format("{}:{:02}:{:02}", total / 3600, total / 60 % 60, total % 60);
  return fmt::format("{}:{:02}", total / 60, total % 60);
}

}  // namespace

std::string render_progress_line(const CycleProgress& progress, int bar_width) {
  const double fraction = std::clamp(progress.fraction, 0.0, 1.0);
  const int filled = static_cast<int>(std::floor(fraction * bar_width));
  const std::string bar = std::string(static_cast<std::size_t>(filled), '#') +
                          std::string(static_cast<std::size_t>(bar_width - filled), '.');
  const double seconds = progress.elapsed_ms / 1000.0;
  const double rate = seconds > 0 ? static_cast<double>(progress.deleted) / seconds : 0.0;
  std::string eta = "--";
  if (fraction >= 1.0) {
    eta = "0:00";
  } else if (fraction > 0 && seconds > 0) {
    eta = clock_text(seconds * (1.0 - fraction) / fraction);
  }
  return fmt::format("[{}] {:5.1f}%  deleted {} of {}  failed {}  skipped {}  {} rows/s  ETA {}",
                     bar, fraction * 100.0, grouped(progress.deleted), grouped(progress.candidates),
                     grouped(progress.failed), grouped(progress.skipped),
                     grouped(std::llround(rate)), eta);
}

void ProgressBar::update(const CycleProgress& progress) {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  const bool new_cycle = progress.cycle_id != cycle_id_;
  if (line_open_ && new_cycle) std::fputs("\n", out_);
  if (!new_cycle && progress.fraction < 1.0 && now - last_draw_ < std::chrono::milliseconds(100)) {
    return;
  }
  cycle_id_ = progress.cycle_id;
  last_draw_ = now;
  line_open_ = true;
  std::fprintf(out_, "\r%s\x1b[K", render_progress_line(progress).c_str());
  std::fflush(out_);
}

void ProgressBar::finish() {
  std::lock_guard lock(mutex_);
  if (line_open_) {
    std::fputs("\n", out_);
    std::fflush(out_);
  }
  line_open_ = false;
  cycle_id_.clear();
}

void ProgressBar::end_line() {
  std::lock_guard lock(mutex_);
  if (!line_open_) return;
  std::fputs("\n", out_);
  std::fflush(out_);
  line_open_ = false;
}

namespace {

class LineEndingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit LineEndingSink(std::vector<ProgressBar*> bars) : bars_(std::move(bars)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg&) override {
    for (auto* bar : bars_) bar->end_line();
  }
  void flush_() override {}

 private:
  std::vector<ProgressBar*> bars_;
};

}  // namespace

std::shared_ptr<spdlog::sinks::sink> make_line_ending_sink(std::vector<ProgressBar*> bars) {
  return std::make_shared<LineEndingSink>(std::move(bars));
}

}  // namespace batch_cleanup::cli
