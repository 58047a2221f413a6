#include "cli/statistics_table.h"

#include <fmt/format.h>

#include <algorithm>

namespace batch_cleanup::cli {

std::string render_statistics(const CycleReport& report) {
  const auto& p = report.phases;
  const double measured = p.find_ms + p.delete_ms + p.commit_ms + p.archive_ms + p.wait_ms;
  const double total = std::max(report.duration_ms, measured);
  const double other = std::max(0.0, total - measured);
  const double batches = static_cast<double>(std::max<std::int64_t>(1, report.batches));
  std::string out = fmt::format("statistics for cycle {} ({} batches, {:.1f} ms)\n",
                                report.cycle_id, report.batches, report.duration_ms);
  out += fmt::format("{:<32} {:>12} {:>7} {:>12}\n", "phase", "total ms", "share", "ms/batch");
  const auto line = [&](const char* name, double ms) {
    out += fmt::format("{:<32} {:>12.1f} {:>6.1f}% {:>12.2f}\n", name, ms,
                       total > 0 ? 100.0 * ms / total : 0.0, ms / batches);
  };
  line("find candidates (lock)", p.find_ms);
  line("delete", p.delete_ms);
  line("commit", p.commit_ms);
  line("archive (table, file)", p.archive_ms);
  line("waiting on locks or throttle", p.wait_ms);
  line("other (connect, preflight, ...)", other);
  line("total", total);
  if (report.archived > 0) {
    out += fmt::format("archive: {} row(s) copied to the archive\n", report.archived);
  }
  return out;
}

}  // namespace batch_cleanup::cli
