#include "engine/cycle_log.h"

#include <fmt/format.h>

#include "config/duration.h"
#include "engine/preflight_dependents.h"
#include "log/logger.h"

namespace batch_cleanup::engine {

std::string describe_policies(const CleanupConfig& config) {
  std::string policies;
  const auto add = [&](const std::string& text) {
    policies += (policies.empty() ? "" : " or ") + text;
  };
  // Indexed by EmailNormalization.
  static constexpr const char* kNormalization[] = {"", " (lower)", " (lower-trim)", " (collation)"};
  if (config.match_email) {
    add(std::string("email") + kNormalization[static_cast<int>(config.normalize_email)]);
  }
  if (config.match_phone) add("phone");
  if (config.expire_after.count() > 0) {
    add("expired (older than " + config::format_duration(config.expire_after) + ")");
  }
  std::string out = "policies: " + policies;
  if (config.min_age.count() > 0) {
    out += "; min-age " + config::format_duration(config.min_age);
  }
  if (!config.exclude_emails.empty() || !config.exclude_domains.empty()) {
    out += fmt::format("; exempt: {} email(s), {} domain(s)", config.exclude_emails.size(),
                       config.exclude_domains.size());
  }
  return out;
}

void log_policy_preview(const CleanupConfig& config, const CycleReport& report) {
  const auto& p = report.policies;
  auto log = logging::logger();
  // Indexed by EmailNormalization.
  static constexpr const char* kNormalization[] = {"exact", "lower", "lower-trim", "collation's"};
  if (p.email >= 0) {
    log->info(
        "dry run: policy 'email' ({} comparison): {} pending row(s) have an email that "
        "exists in users{}",
        kNormalization[static_cast<int>(config.normalize_email)], p.email,
        p.email_extra_from_normalization >= 0
            ? fmt::format(", {} of them only because of --normalize-email",
                          p.email_extra_from_normalization)
            : std::string());
  }
  if (p.phone >= 0) {
    log->info("dry run: policy 'phone': {} pending row(s) have a phone that exists in users",
              p.phone);
  }
  if (p.expired >= 0) {
    log->info("dry run: policy 'expired': {} pending row(s) were created more than {} ago",
              p.expired, config::format_duration(config.expire_after));
  }
  if (p.kept_by_min_age >= 0) {
    log->info(
        "dry run: --min-age {} keeps {} matching row(s) (younger, or no readable creation "
        "time)",
        config::format_duration(config.min_age), p.kept_by_min_age);
  }
  if (p.kept_by_exclusion >= 0) {
    log->info("dry run: --exclude-email/--exclude-domain keep {} matching row(s)",
              p.kept_by_exclusion);
  }
  if (p.users_email_collisions > 0) {
    std::string sample;
    for (const auto& email : p.collision_sample) sample += (sample.empty() ? "" : ", ") + email;
    log->warn(
        "dry run: {} normalised email(s) are shared by several users rows (e.g. {}); "
        "pending rows with them are deleted, the users rows are left for you to review",
        p.users_email_collisions, sample);
  }
  for (const auto& rows : report.dependents) {
    log->info("dry run: foreign key {}", describe_dependent_rows(rows));
  }
  if (report.refused_by_dependents > 0) {
    log->info(
        "dry run: {} row(s) would be deleted in all; {} of them have rows a RESTRICT or NO "
        "ACTION foreign key protects, so their delete would be refused and they kept",
        report.candidates, report.refused_by_dependents);
    return;
  }
  log->info("dry run: {} row(s) would be deleted in all", report.candidates);
}

void log_batch_events(const store::BatchResult& result) {
  auto log = logging::logger();
  if (!log->should_log(spdlog::level::debug)) return;
  using Kind = store::BatchEvent::Kind;
  for (const auto& event : result.events) {
    switch (event.kind) {
      case Kind::kRangeHeldOrRefused:
        log->debug("range {} ({}); locking row by row", event.message, event.sqlstate);
        break;
      case Kind::kBatchRefused:
        log->debug("batch of {} rows refused ({}: {}); retrying row by row", event.rows,
                   event.sqlstate, event.message);
        break;
      case Kind::kTransactionRolledBack:
        log->debug("a trigger rolled back the transaction of a batch of {} rows; isolating rows",
                   event.rows);
        break;
      case Kind::kCommitRefused:
        log->debug("commit of a batch of {} rows refused ({}: {}); isolating rows", event.rows,
                   event.sqlstate, event.message);
        break;
    }
  }
}

}  // namespace batch_cleanup::engine
