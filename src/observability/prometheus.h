// The Prometheus metrics of a process running cleanup jobs: what /metrics serves, what
// --metrics-file writes and what --push-metrics pushes. Every value comes from the services' own
// counters (ServiceStatus), which each service updates from the reports of the cycles it ran;
// nothing is parsed from logs or from text.
#pragma once

#include <string>
#include <vector>

#include "batch_cleanup/service.h"
#include "observability/metric_family.h"

namespace batch_cleanup::observability {

// Content-Type of the text exposition.
inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// The label naming a configuration file's job on each of its samples. Not "job" nor "instance":
// Prometheus sets those on every scraped series itself.
inline constexpr const char* kJobLabel = "cleanup_job";

// The batch_cleanup_* families of one job's status (README "Metrics"), without a job label.
std::vector<MetricFamily> job_families(const ServiceStatus& status);

// batch_cleanup_build_info{version, libpq, sqlite} 1.
MetricFamily build_info_family();

// One job of a process running several.
struct JobStatus {
  std::string job;
  ServiceStatus status;
};

struct ExpositionOptions {
  // Label every job's samples cleanup_job="NAME" (first label). Needed with more than one job.
  bool label_jobs = false;
  // The process_* families. Off for --metrics-file and --push-metrics: node_exporter and the
  // Pushgateway export process_* of their own, and a finished batch run's process is gone.
  bool process_metrics = true;
};

// build_info, then every job's families (each family's samples for every job, in job order),
// then process_* when asked.
std::vector<MetricFamily> metric_families(const std::vector<JobStatus>& jobs,
                                          const ExpositionOptions& options);

// render_text(metric_families(jobs, options)).
std::string render_metrics(const std::vector<JobStatus>& jobs, const ExpositionOptions& options);

// One unlabelled job, with the process_* families: /metrics of a single-job process.
std::string render_metrics(const ServiceStatus& status);

}  // namespace batch_cleanup::observability
