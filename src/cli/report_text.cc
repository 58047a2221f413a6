#include "cli/report_text.h"

#include <fmt/format.h>

#include "engine/preflight_dependents.h"

namespace batch_cleanup::cli {

std::string render_report_text(const CycleReport& report) {
  std::string out;
  if (report.dry_run && !report.error.empty()) {
    // It counted nothing: no count is printed (the error is logged on stderr).
    return fmt::format("dry run (cycle {}, {}) failed: nothing counted; nothing was written\n",
                       report.cycle_id, report.backend);
  }
  if (report.dry_run) {
    out += fmt::format(
        "dry run (cycle {}, {}): {} pending row(s) would be deleted; nothing was written\n",
        report.cycle_id, report.backend, report.candidates);
    const auto& p = report.policies;
    if (p.email >= 0) {
      out += fmt::format("  policy email:   {} row(s) whose email exists in users", p.email);
      if (p.email_extra_from_normalization >= 0) {
        out += fmt::format(" ({} only after --normalize-email)", p.email_extra_from_normalization);
      }
      out += "\n";
    }
    if (!p.email_comparison.empty()) {
      out += fmt::format("  email comparison: {}\n", p.email_comparison);
    }
    if (p.phone >= 0) {
      out += fmt::format("  policy phone:   {} row(s) whose phone exists in users\n", p.phone);
    }
    if (p.expired >= 0) {
      out += fmt::format("  policy expired: {} row(s) whose {}\n", p.expired, p.expired_rule);
    }
    if (p.kept_by_min_age >= 0) {
      out += fmt::format("  kept by --min-age: {} matching row(s)\n", p.kept_by_min_age);
    }
    if (p.kept_by_condition >= 0) {
      out += fmt::format("  kept by --where: {} matching row(s) ({})\n", p.kept_by_condition,
                         fmt::join(p.conditions, " AND "));
    }
    if (p.kept_by_exclusion >= 0) {
      out += fmt::format("  kept by exclusions: {} matching row(s)\n", p.kept_by_exclusion);
    }
    for (const auto& rows : report.dependents) {
      out += fmt::format("  foreign key {}\n", engine::describe_dependent_rows(rows));
    }
    if (report.refused_by_dependents > 0) {
      out += fmt::format(
          "  refused by foreign keys: {} candidate(s) (RESTRICT / NO ACTION) would be kept\n",
          report.refused_by_dependents);
    }
    if (p.users_email_collisions > 0) {
      out += fmt::format("  users sharing a normalised email: {} email(s), e.g. {}\n",
                         p.users_email_collisions, fmt::join(p.collision_sample, ", "));
    }
    if (!report.sample.empty()) {
      out += fmt::format("first {} candidate(s) by key:\n", report.sample.size());
      for (const auto& row : report.sample) {
        out += fmt::format("  {}  {}  ({})\n", row.key, row.email, row.reason);
      }
    }
  } else if (report.skipped_by_lock) {
    out += fmt::format(
        "cycle {} ({}): skipped: another instance holds the lock for these tables: {}{}{}\n",
        report.cycle_id, report.backend,
        report.lease_holder.empty() ? std::string("(not recorded)") : report.lease_holder,
        report.lease_epoch > 0 ? fmt::format(" (epoch {})", report.lease_epoch) : std::string(),
        report.lease_expires_at.empty() ? std::string() : " until " + report.lease_expires_at);
  } else {
    out += fmt::format(
        "cycle {} ({}, {} batches): candidates={} deleted={} failed={} skipped={} "
        "no_longer_matching={} duration={:.0f}ms{}\n",
        report.cycle_id, report.backend, report.batches, report.candidates, report.deleted,
        report.failed, report.skipped, report.no_longer_matching, report.duration_ms,
        report.interrupted ? " (interrupted by a stop request)" : "");
    const auto& by = report.deleted_by_policy;
    if (by.phone > 0 || by.expired > 0) {
      out += fmt::format("  deleted by policy: email={} phone={} expired={}\n", by.email, by.phone,
                         by.expired);
    }
    if (report.archived > 0 || report.archive_purged > 0) {
      out +=
          fmt::format("  archived={} archive_purged={}\n", report.archived, report.archive_purged);
    }
    for (const auto& rows : report.dependent_rows) {
      if (rows.action == "cascade") {
        out += fmt::format("  foreign key: {} row(s) of {} deleted with them\n", rows.rows,
                           rows.table);
      } else {
        out += fmt::format("  foreign key: {} row(s) of {} changed ({})\n", rows.rows, rows.table,
                           rows.action);
      }
    }
    for (const auto& f : report.failures) {
      out += fmt::format("  not deleted: key={} email={} SQLSTATE {}: {}\n", f.key, f.email,
                         f.sqlstate, f.message);
    }
  }
  return out;
}

}  // namespace batch_cleanup::cli
