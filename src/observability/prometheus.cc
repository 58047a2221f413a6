#include "observability/prometheus.h"

#include <fmt/format.h>

#include <array>
#include <chrono>
#include <map>
#include <sstream>
#include <vector>

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

// A metric family of an exposition: its comment lines and its sample lines.
struct Family {
  std::vector<std::string> comments;
  std::vector<std::string> samples;
};

// "name{a="b"} 1" -> "name{job="J",a="b"} 1"; "name 1" -> "name{job="J"} 1".
std::string with_job_label(const std::string& sample, const std::string& job) {
  const auto name_end = sample.find_first_of("{ ");
  if (name_end == std::string::npos) return sample;
  const std::string label = "job=\"" + job + "\"";
  if (sample[name_end] == '{') {
    const bool empty = sample.size() > name_end + 1 && sample[name_end + 1] == '}';
    return sample.substr(0, name_end + 1) + label + (empty ? "" : ",") +
           sample.substr(name_end + 1);
  }
  return sample.substr(0, name_end) + "{" + label + "}" + sample.substr(name_end);
}

// Splits an exposition into families, in order, keyed by the name of their "# HELP" line.
std::vector<std::pair<std::string, Family>> families(const std::string& text) {
  std::vector<std::pair<std::string, Family>> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("# HELP ", 0) == 0) {
      const auto name_end = line.find(' ', 7);
      out.emplace_back(line.substr(7, name_end - 7), Family{});
    }
    if (out.empty()) continue;
    auto& family = out.back().second;
    (line.rfind('#', 0) == 0 ? family.comments : family.samples).push_back(line);
  }
  return out;
}

}  // namespace

std::string render_metrics(const std::vector<JobStatus>& jobs) {
  // Families in the order of the first job's exposition; samples of every job under each.
  std::vector<std::string> order;
  std::map<std::string, Family> merged;
  for (const auto& job : jobs) {
    for (auto& [name, family] : families(render_metrics(job.status))) {
      auto [entry, inserted] = merged.try_emplace(name);
      if (inserted) {
        order.push_back(name);
        entry->second.comments = std::move(family.comments);
      }
      for (const auto& sample : family.samples) {
        entry->second.samples.push_back(with_job_label(sample, job.job));
      }
    }
  }
  std::string out;
  for (const auto& name : order) {
    for (const auto& line : merged[name].comments) out += line + "\n";
    for (const auto& line : merged[name].samples) out += line + "\n";
  }
  return out;
}

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
