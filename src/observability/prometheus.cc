#include "observability/prometheus.h"

#include <fmt/format.h>

#include <array>
#include <chrono>

namespace batch_cleanup::observability {
namespace {

// Outcome labels always exported (at 0 before the first such cycle), so alert rules and
// rate() see the series from the start.
constexpr std::array<const char*, 5> kOutcomes = {"success", "partial", "interrupted", "failed",
                                                  "dry_run"};

std::string number(double value) { return fmt::format("{}", value); }

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void sample(std::string& out, const char* name, double value) {
  out += fmt::format("{} {}\n", name, number(value));
}

void metric(std::string& out, const char* name, const char* type, const char* help, double value) {
  header(out, name, type, help);
  sample(out, name, value);
}

double unix_seconds(std::chrono::system_clock::time_point when) {
  return std::chrono::duration<double>(when.time_since_epoch()).count();
}

}  // namespace

std::string render_metrics(const ServiceStatus& status) {
  std::string out;
  metric(out, "batch_cleanup_rows_deleted_total", "counter", "Pending rows deleted and committed.",
         static_cast<double>(status.total_deleted));
  header(out, "batch_cleanup_rows_deleted_by_policy_total", "counter",
         "Pending rows deleted, by the policy that matched them (email, phone, expired).");
  for (const auto& [policy, value] :
       {std::pair<const char*, std::int64_t>{"email", status.total_deleted_by_policy.email},
        {"phone", status.total_deleted_by_policy.phone},
        {"expired", status.total_deleted_by_policy.expired}}) {
    out += fmt::format("batch_cleanup_rows_deleted_by_policy_total{{policy=\"{}\"}} {}\n", policy,
                       value);
  }
  metric(out, "batch_cleanup_rows_failed_total", "counter",
         "Pending rows a constraint or trigger refused to delete.",
         static_cast<double>(status.total_failed));
  metric(out, "batch_cleanup_rows_skipped_total", "counter",
         "Matching rows skipped because another session held them locked.",
         static_cast<double>(status.total_skipped));
  metric(out, "batch_cleanup_rows_no_longer_matching_total", "counter",
         "Rows that matched, then failed the re-check inside the DELETE.",
         static_cast<double>(status.total_no_longer_matching));
  metric(out, "batch_cleanup_batches_total", "counter", "Batch transactions committed.",
         static_cast<double>(status.total_batches));

  header(out, "batch_cleanup_cycles_total", "counter",
         "Cleanup cycles by outcome (success, partial, interrupted, failed, dry_run).");
  for (const char* outcome : kOutcomes) {
    const auto found = status.cycles_by_outcome.find(outcome);
    const auto value = found == status.cycles_by_outcome.end() ? 0 : found->second;
    out += fmt::format("batch_cleanup_cycles_total{{outcome=\"{}\"}} {}\n", outcome, value);
  }

  metric(out, "batch_cleanup_last_success_timestamp_seconds", "gauge",
         "Unix time the last non-dry cycle that did not fail ended (0: none yet).",
         status.last_success ? unix_seconds(*status.last_success) : 0.0);
  const bool have_report = status.last_report.has_value();
  metric(out, "batch_cleanup_last_cycle_duration_seconds", "gauge",
         "Duration of the last completed cycle.",
         have_report ? status.last_report->duration_ms / 1000.0 : 0.0);
  metric(out, "batch_cleanup_last_cycle_candidates", "gauge",
         "Candidate rows of the last completed cycle.",
         have_report ? static_cast<double>(status.last_report->candidates) : 0.0);
  metric(out, "batch_cleanup_last_cycle_deleted", "gauge",
         "Rows deleted by the last completed cycle.",
         have_report ? static_cast<double>(status.last_report->deleted) : 0.0);
  metric(out, "batch_cleanup_daemon_running", "gauge",
         "1 while the background cleanup thread runs.", status.running ? 1.0 : 0.0);
  metric(out, "batch_cleanup_cycle_in_progress", "gauge", "1 while a cycle runs.",
         status.cycle_in_progress ? 1.0 : 0.0);
  metric(out, "batch_cleanup_consecutive_failed_cycles", "gauge",
         "Cycles that failed in a row (0 after a cycle that did not fail).",
         static_cast<double>(status.consecutive_failures));

  const auto& histogram = status.batch_duration;
  header(out, "batch_cleanup_batch_duration_seconds", "histogram",
         "Duration of batch transactions (lock, delete, commit).");
  std::int64_t cumulative = 0;
  for (std::size_t i = 0; i < DurationHistogram::kBoundsSeconds.size(); ++i) {
    cumulative += histogram.counts[i];
    out += fmt::format("batch_cleanup_batch_duration_seconds_bucket{{le=\"{}\"}} {}\n",
                       number(DurationHistogram::kBoundsSeconds[i]), cumulative);
  }
  cumulative += histogram.counts.back();
  out += fmt::format("batch_cleanup_batch_duration_seconds_bucket{{le=\"+Inf\"}} {}\n", cumulative);
  out +=
      fmt::format("batch_cleanup_batch_duration_seconds_sum {}\n", number(histogram.sum_seconds));
  out += fmt::format("batch_cleanup_batch_duration_seconds_count {}\n", histogram.count);
  return out;
}

}  // namespace batch_cleanup::observability
