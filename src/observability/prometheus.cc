#include "observability/prometheus.h"

#include <fmt/format.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <chrono>

#include "batch_cleanup/version.h"
#include "observability/process_metrics.h"

namespace batch_cleanup::observability {
namespace {

// Outcome labels always exported (at 0 before the first such cycle), so alert rules and
// rate() see the series from the start.
constexpr std::array<const char*, 5> kOutcomes = {"success", "partial", "interrupted", "failed",
                                                  "dry_run"};

double unix_seconds(std::chrono::system_clock::time_point when) {
  return std::chrono::duration<double>(when.time_since_epoch()).count();
}

MetricFamily scalar(const char* name, MetricType type, const char* help, double value) {
  return MetricFamily{name, type, help, {Sample{"", {}, value}}};
}

double count(std::int64_t value) { return static_cast<double>(value); }

// Rows the last completed cycle found matching and left in place: every candidate of a dry run;
// otherwise those neither deleted nor found no longer matching (refused or locked rows). A lower
// bound after an interrupted cycle, which did not look at every row.
double backlog(const ServiceStatus& status) {
  if (!status.last_report) return 0;
  const auto& report = *status.last_report;
  if (report.dry_run) return count(report.candidates);
  return count(
      std::max<std::int64_t>(0, report.candidates - report.deleted - report.no_longer_matching));
}

MetricFamily batch_duration_family(const DurationHistogram& histogram) {
  MetricFamily family{"batch_cleanup_batch_duration_seconds",
                      MetricType::kHistogram,
                      "Duration of batch transactions (lock, delete, commit).",
                      {}};
  std::int64_t cumulative = 0;
  for (std::size_t i = 0; i < DurationHistogram::kBoundsSeconds.size(); ++i) {
    cumulative += histogram.counts[i];
    family.samples.push_back(
        Sample{"_bucket",
               {{"le", fmt::format("{}", DurationHistogram::kBoundsSeconds[i])}},
               count(cumulative)});
  }
  cumulative += histogram.counts.back();
  family.samples.push_back(Sample{"_bucket", {{"le", "+Inf"}}, count(cumulative)});
  family.samples.push_back(Sample{"_sum", {}, histogram.sum_seconds});
  family.samples.push_back(Sample{"_count", {}, count(histogram.count)});
  return family;
}

// The action label of batch_cleanup_dependent_rows_total for a report's ON DELETE action.
const char* dependent_action_label(const std::string& action) {
  if (action == "cascade") return "deleted";
  if (action == "set null") return "set_null";
  return "set_default";
}

}  // namespace

std::vector<MetricFamily> job_families(const ServiceStatus& status) {
  std::vector<MetricFamily> out;
  out.push_back(scalar("batch_cleanup_rows_deleted_total", MetricType::kCounter,
                       "Pending rows deleted and committed.", count(status.totals.deleted)));
  MetricFamily by_policy{
      "batch_cleanup_rows_deleted_by_policy_total",
      MetricType::kCounter,
      "Pending rows deleted, by the policy that matched them (email, phone, expired).",
      {}};
  for (const auto& [policy, value] :
       {std::pair<const char*, std::int64_t>{"email", status.totals.deleted_by_policy.email},
        {"phone", status.totals.deleted_by_policy.phone},
        {"expired", status.totals.deleted_by_policy.expired}}) {
    by_policy.samples.push_back(Sample{"", {{"policy", policy}}, count(value)});
  }
  out.push_back(std::move(by_policy));
  MetricFamily dependents{"batch_cleanup_dependent_rows_total",
                          MetricType::kCounter,
                          "Rows of tables referencing the pending table (and below, through "
                          "CASCADE keys) that committed deletes took with them (action deleted) "
                          "or changed (set_null, set_default), by table.",
                          {}};
  for (const auto& rows : status.totals.dependent_rows) {
    dependents.samples.push_back(
        Sample{"",
               {{"table", rows.table}, {"action", dependent_action_label(rows.action)}},
               count(rows.rows)});
  }
  out.push_back(std::move(dependents));
  out.push_back(scalar("batch_cleanup_rows_failed_total", MetricType::kCounter,
                       "Pending rows a constraint or trigger refused to delete.",
                       count(status.totals.failed)));
  out.push_back(scalar("batch_cleanup_rows_skipped_total", MetricType::kCounter,
                       "Matching rows skipped because another session held them locked.",
                       count(status.totals.skipped)));
  out.push_back(scalar("batch_cleanup_rows_no_longer_matching_total", MetricType::kCounter,
                       "Rows that matched, then failed the re-check inside the DELETE.",
                       count(status.totals.no_longer_matching)));
  out.push_back(scalar("batch_cleanup_batches_total", MetricType::kCounter,
                       "Batch transactions committed.", count(status.totals.batches)));

  MetricFamily cycles{"batch_cleanup_cycles_total",
                      MetricType::kCounter,
                      "Cleanup cycles by outcome (success, partial, interrupted, failed, dry_run).",
                      {}};
  MetricFamily last_by_outcome{"batch_cleanup_last_cycle_timestamp_seconds",
                               MetricType::kGauge,
                               "Unix time the last cycle of each outcome ended (0: none yet).",
                               {}};
  for (const char* outcome : kOutcomes) {
    const auto found = status.cycles_by_outcome.find(outcome);
    cycles.samples.push_back(
        Sample{"",
               {{"outcome", outcome}},
               found == status.cycles_by_outcome.end() ? 0 : count(found->second)});
    const auto last = status.last_cycle_by_outcome.find(outcome);
    last_by_outcome.samples.push_back(
        Sample{"",
               {{"outcome", outcome}},
               last == status.last_cycle_by_outcome.end() ? 0.0 : unix_seconds(last->second)});
  }
  out.push_back(std::move(cycles));
  out.push_back(scalar("batch_cleanup_last_success_timestamp_seconds", MetricType::kGauge,
                       "Unix time the last non-dry cycle that did not fail ended (0: none yet).",
                       status.last_success ? unix_seconds(*status.last_success) : 0.0));
  out.push_back(std::move(last_by_outcome));

  const auto* report = status.last_report ? &*status.last_report : nullptr;
  out.push_back(scalar("batch_cleanup_last_cycle_duration_seconds", MetricType::kGauge,
                       "Duration of the last completed cycle.",
                       report ? report->duration_ms / 1000.0 : 0.0));
  out.push_back(scalar("batch_cleanup_last_cycle_candidates", MetricType::kGauge,
                       "Candidate rows of the last completed cycle.",
                       report ? count(report->candidates) : 0.0));
  out.push_back(scalar("batch_cleanup_last_cycle_deleted", MetricType::kGauge,
                       "Rows deleted by the last completed cycle.",
                       report ? count(report->deleted) : 0.0));
  out.push_back(scalar("batch_cleanup_last_cycle_failed", MetricType::kGauge,
                       "Rows a constraint or trigger refused in the last completed cycle.",
                       report ? count(report->failed) : 0.0));
  out.push_back(scalar("batch_cleanup_backlog_rows", MetricType::kGauge,
                       "Matching rows the last completed cycle left in place (refused or locked; "
                       "after a dry run, every candidate).",
                       backlog(status)));
  out.push_back(scalar("batch_cleanup_interval_seconds", MetricType::kGauge,
                       "The interval between the starts of two cycles (--interval).",
                       std::chrono::duration<double>(status.interval).count()));
  out.push_back(scalar("batch_cleanup_database_up", MetricType::kGauge,
                       "0 while the last cycle could not reach the database, 1 otherwise.",
                       status.database_unreachable ? 0.0 : 1.0));
  out.push_back(scalar("batch_cleanup_daemon_running", MetricType::kGauge,
                       "1 while the background cleanup thread runs.", status.running ? 1.0 : 0.0));
  out.push_back(scalar("batch_cleanup_cycle_in_progress", MetricType::kGauge,
                       "1 while a cycle runs.", status.cycle_in_progress ? 1.0 : 0.0));
  out.push_back(scalar("batch_cleanup_consecutive_failed_cycles", MetricType::kGauge,
                       "Cycles that failed in a row (0 after a cycle that did not fail).",
                       count(status.consecutive_failures)));
  out.push_back(scalar("batch_cleanup_job_halted", MetricType::kGauge,
                       "1 when the job stopped on a configuration or guard error (the other jobs "
                       "go on).",
                       status.halted_on_config_error ? 1.0 : 0.0));
  MetricFamily skipped{"batch_cleanup_cycles_skipped_total",
                       MetricType::kCounter,
                       "Cycles that came due and did not run, by reason (lease_held: another "
                       "instance holds the lock).",
                       {}};
  for (const char* reason : {"lease_held"}) {
    const auto found = status.cycles_skipped.find(reason);
    skipped.samples.push_back(Sample{
        "", {{"reason", reason}}, found == status.cycles_skipped.end() ? 0 : count(found->second)});
  }
  out.push_back(std::move(skipped));
  out.push_back(scalar("batch_cleanup_last_skipped_cycle_timestamp_seconds", MetricType::kGauge,
                       "Unix time of the last skipped cycle (0: none).",
                       status.last_skipped ? unix_seconds(*status.last_skipped) : 0.0));
  out.push_back(scalar("batch_cleanup_leader", MetricType::kGauge,
                       "1 while this instance holds the lock between its cycles (the daemon's "
                       "leader), 0 otherwise.",
                       status.leadership.role == "leader" ? 1.0 : 0.0));
  out.push_back(scalar("batch_cleanup_standby", MetricType::kGauge,
                       "1 while this daemon stands by (another instance holds the lock), 0 "
                       "otherwise.",
                       status.leadership.role == "standby" ? 1.0 : 0.0));
  out.push_back(scalar("batch_cleanup_lease_epoch", MetricType::kGauge,
                       "The epoch of the lease as this instance last saw it (0: not seen).",
                       count(status.leadership.epoch)));
  out.push_back(
      scalar("batch_cleanup_schedule_last_cycle_timestamp_seconds", MetricType::kGauge,
             "Unix time the last completed cycle of any instance started, as recorded "
             "in the lock (0: none known).",
             status.leadership.last_cycle ? unix_seconds(*status.leadership.last_cycle) : 0.0));
  out.push_back(batch_duration_family(status.batch_duration));
  return out;
}

MetricFamily build_info_family() {
  const int libpq = PQlibVersion();  // e.g. 150010 for 15.10
  return MetricFamily{
      "batch_cleanup_build_info",
      MetricType::kGauge,
      "A constant 1, labelled with the version of batch_cleanup and of the "
      "libpq and SQLite libraries it runs with.",
      {Sample{"",
              {{"version", kVersion},
               {"libpq", std::to_string(libpq / 10000) + "." + std::to_string(libpq % 10000)},
               {"sqlite", sqlite3_libversion()}},
              1}}};
}

std::vector<MetricFamily> metric_families(const std::vector<JobStatus>& jobs,
                                          const ExpositionOptions& options) {
  std::vector<MetricFamily> out{build_info_family()};
  for (const auto& job : jobs) {
    auto families = job_families(job.status);
    if (options.label_jobs) prepend_label(families, {kJobLabel, job.job});
    merge_families(out, std::move(families));
  }
  if (options.process_metrics) merge_families(out, process_families());
  return out;
}

std::string render_metrics(const std::vector<JobStatus>& jobs, const ExpositionOptions& options) {
  return render_text(metric_families(jobs, options));
}

std::string render_metrics(const ServiceStatus& status) {
  return render_metrics({JobStatus{"default", status}}, ExpositionOptions{});
}

}  // namespace batch_cleanup::observability
