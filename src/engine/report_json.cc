#include "engine/report_json.h"

#include <cmath>

#include "util/time_format.h"

namespace batch_cleanup::engine {

nlohmann::json report_json(const CycleReport& report) {
  nlohmann::json sample = nlohmann::json::array();
  for (const auto& row : report.sample) {
    sample.push_back({{"key", row.key}, {"email", row.email}, {"reason", row.reason}});
  }
  nlohmann::json failures = nlohmann::json::array();
  for (const auto& f : report.failures) {
    failures.push_back(
        {{"key", f.key}, {"email", f.email}, {"sqlstate", f.sqlstate}, {"message", f.message}});
  }
  nlohmann::json object = {
      {"cycle_id", report.cycle_id},
      {"dry_run", report.dry_run},
      {"backend", report.backend},
      {"strategy", report.strategy},
      {"candidates", report.candidates},
      {"deleted", report.deleted},
      {"failed", report.failed},
      {"skipped", report.skipped},
      {"no_longer_matching", report.no_longer_matching},
      {"batches", report.batches},
      {"batch_retries", report.batch_retries},
      {"deleted_by_policy",
       {{"email", report.deleted_by_policy.email},
        {"phone", report.deleted_by_policy.phone},
        {"expired", report.deleted_by_policy.expired}}},
      {"duration_ms", std::llround(report.duration_ms)},
      {"batch_p50_ms", report.batch_p50_ms},
      {"batch_p99_ms", report.batch_p99_ms},
      {"batch_max_ms", report.batch_max_ms},
      {"throttle_ms", std::llround(report.throttle_ms)},
      {"started_at", report.started_at},
      {"finished_at", report.finished_at},
      {"interrupted", report.interrupted},
      {"skipped_by_lock", report.skipped_by_lock},
      {"skipped_reason", report.skipped_reason.empty() ? nlohmann::json(nullptr)
                                                       : nlohmann::json(report.skipped_reason)},
      {"archived", report.archived},
      {"archive_purged", report.archive_purged},
      {"replication_pauses", report.replication_pauses},
      {"sample", sample},
      {"failures", failures},
      {"warnings", report.warnings},
      {"phases_ms",
       {{"find", report.phases.find_ms},
        {"delete", report.phases.delete_ms},
        {"commit", report.phases.commit_ms},
        {"archive", report.phases.archive_ms},
        {"wait", report.phases.wait_ms}}},
  };
  if (report.skipped_by_lock) {
    object["lease"] = {
        {"holder", report.lease_holder},
        {"epoch", report.lease_epoch},
        {"expires_at", report.lease_expires_at.empty() ? nlohmann::json(nullptr)
                                                       : nlohmann::json(report.lease_expires_at)}};
  }
  // Only a failed cycle's report has it: the counts above are what it committed before.
  if (!report.error.empty()) object["error"] = report.error;
  // A dry run that failed counted nothing: it has no count to give, not 0.
  if (report.dry_run && !report.error.empty()) object["candidates"] = nullptr;
  if (report.dry_run) {
    // What each policy would do; null where the policy or protection is off.
    const auto count = [](std::int64_t n) {
      return n < 0 ? nlohmann::json(nullptr) : nlohmann::json(n);
    };
    const auto& p = report.policies;
    object["policies"] = {
        {"email", count(p.email)},
        {"email_extra_from_normalization", count(p.email_extra_from_normalization)},
        {"phone", count(p.phone)},
        {"expired", count(p.expired)},
        {"kept_by_min_age", count(p.kept_by_min_age)},
        {"expired_rule",
         p.expired_rule.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.expired_rule)},
        {"conditions", p.conditions},
        {"kept_by_condition", count(p.kept_by_condition)},
        {"kept_by_exclusion", count(p.kept_by_exclusion)},
        {"users_email_collisions", count(p.users_email_collisions)},
        {"collision_sample", p.collision_sample},
        {"email_comparison",
         p.email_comparison.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.email_comparison)},
    };
    // Per foreign key referencing the pending table (and below it through CASCADE keys).
    nlohmann::json dependents = nlohmann::json::array();
    for (const auto& d : report.dependents) {
      dependents.push_back({{"table", d.table},
                            {"parent_table", d.parent_table},
                            {"columns", d.columns},
                            {"action", d.action},
                            {"depth", d.depth},
                            {"rows", d.rows},
                            {"refused", d.refused}});
    }
    object["dependents"] = std::move(dependents);
    object["refused_by_dependents"] = count(report.refused_by_dependents);
  } else {
    // A real run: per dependent table and action, what the committed batches did to it.
    nlohmann::json dependents = nlohmann::json::array();
    for (const auto& d : report.dependent_rows) {
      dependents.push_back({{"table", d.table}, {"action", d.action}, {"rows", d.rows}});
    }
    object["dependents"] = std::move(dependents);
  }
  return object;
}

nlohmann::json run_record_json(const RunRecord& run) {
  return {
      {"job", run.job},
      {"cycle_id", run.cycle_id},
      {"started_at", run.started_at},
      {"finished_at", run.finished_at},
      {"host", run.host},
      {"mode", run.mode},
      {"candidates", run.candidates},
      {"deleted", run.deleted},
      {"failed", run.failed},
      {"skipped", run.skipped},
      {"batches", run.batches},
      {"duration_ms", std::llround(run.duration_ms)},
      {"outcome", run.outcome},
      {"error", run.error},
  };
}

nlohmann::json status_json(const ServiceStatus& status) {
  const auto time_or_null = [](const std::optional<std::chrono::system_clock::time_point>& t) {
    return t ? nlohmann::json(util::iso8601_utc(*t)) : nlohmann::json(nullptr);
  };
  nlohmann::json last_by_outcome = nlohmann::json::object();
  for (const auto& [outcome, when] : status.last_cycle_by_outcome) {
    last_by_outcome[outcome] = util::iso8601_utc(when);
  }
  nlohmann::json object = {
      {"running", status.running},
      {"cycle_in_progress", status.cycle_in_progress},
      {"interval_hours", static_cast<double>(status.interval.count()) / 3'600'000.0},
      {"interval_ms", status.interval.count()},
      {"last_run", time_or_null(status.last_run)},
      {"next_run", time_or_null(status.next_run)},
      {"last_report",
       status.last_report ? report_json(*status.last_report) : nlohmann::json(nullptr)},
      {"last_error", status.last_error},
      {"cycles", status.cycles},
      {"failed_cycles", status.failed_cycles},
      {"consecutive_failures", status.consecutive_failures},
      {"total_deleted", status.totals.deleted},
      {"total_deleted_by_policy",
       {{"email", status.totals.deleted_by_policy.email},
        {"phone", status.totals.deleted_by_policy.phone},
        {"expired", status.totals.deleted_by_policy.expired}}},
      {"total_failed", status.totals.failed},
      {"total_skipped", status.totals.skipped},
      {"total_no_longer_matching", status.totals.no_longer_matching},
      {"total_batches", status.totals.batches},
      {"last_success", time_or_null(status.last_success)},
      {"database_unreachable", status.database_unreachable},
      {"halted_on_config_error", status.halted_on_config_error},
      {"cycles_by_outcome", status.cycles_by_outcome},
      {"last_cycle_by_outcome", last_by_outcome},
      {"cycles_skipped", status.cycles_skipped},
      {"last_skipped", time_or_null(status.last_skipped)},
      {"leadership",
       {{"role", status.leadership.role.empty() ? nlohmann::json(nullptr)
                                                : nlohmann::json(status.leadership.role)},
        {"holder", status.leadership.holder},
        {"epoch", status.leadership.epoch},
        {"expires_at", status.leadership.expires_at.empty()
                           ? nlohmann::json(nullptr)
                           : nlohmann::json(status.leadership.expires_at)},
        {"last_cycle", time_or_null(status.leadership.last_cycle)}}},
  };
  nlohmann::json recent = nlohmann::json::array();
  for (const auto& run : status.recent_cycles) recent.push_back(run_record_json(run));
  object["recent_cycles"] = std::move(recent);
  return object;
}

}  // namespace batch_cleanup::engine

namespace batch_cleanup {

std::string CycleReport::to_json() const { return engine::report_json(*this).dump(); }

std::string RunRecord::to_json() const { return engine::run_record_json(*this).dump(); }

std::string ServiceStatus::to_json() const { return engine::status_json(*this).dump(); }

}  // namespace batch_cleanup
