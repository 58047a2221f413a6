#include "cli/report_text.h"

#include <fmt/format.h>

namespace batch_cleanup::cli {

std::string render_report_text(const CycleReport& report) {
  std::string out;
  if (report.dry_run) {
    out += fmt::format(
        "dry run (cycle {}, {}): {} pending row(s) would be deleted; nothing was written\n",
        report.cycle_id, report.backend, report.candidates);
    if (!report.sample.empty()) {
      out += fmt::format("first {} candidate(s) by key:\n", report.sample.size());
      for (const auto& row : report.sample) out += fmt::format("  {}  {}\n", row.key, row.email);
    }
  } else if (report.skipped_by_lock) {
    out += fmt::format("cycle {} ({}): skipped: another instance holds the lock for these tables\n",
                       report.cycle_id, report.backend);
  } else {
    out += fmt::format(
        "cycle {} ({}, {} batches): candidates={} deleted={} failed={} skipped={} "
        "no_longer_matching={} duration={:.0f}ms{}\n",
        report.cycle_id, report.backend, report.batches, report.candidates, report.deleted,
        report.failed, report.skipped, report.no_longer_matching, report.duration_ms,
        report.interrupted ? " (interrupted by a stop request)" : "");
    if (report.archived > 0 || report.archive_purged > 0) {
      out +=
          fmt::format("  archived={} archive_purged={}\n", report.archived, report.archive_purged);
    }
    for (const auto& f : report.failures) {
      out += fmt::format("  not deleted: key={} email={} SQLSTATE {}: {}\n", f.key, f.email,
                         f.sqlstate, f.message);
    }
  }
  return out;
}

}  // namespace batch_cleanup::cli
