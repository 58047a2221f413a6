// The Prometheus text exposition (format 0.0.4) of a service's status: what /metrics serves.
// Every value comes from the service's own counters (ServiceStatus), which the service updates
// from the reports of the cycles it ran; nothing is parsed from logs.
#pragma once

#include <string>
#include <vector>

#include "batch_cleanup/service.h"

namespace batch_cleanup::observability {

// Content-Type of render_metrics()'s output.
inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// Renders every batch_cleanup_* metric (see the README's table) for `status`.
std::string render_metrics(const ServiceStatus& status);

// One job of a process running several.
struct JobStatus {
  std::string job;
  ServiceStatus status;
};

// Every job's metrics in one exposition: each metric's HELP and TYPE once, then its samples for
// every job in order, each labelled job="NAME" (first label). Job names need no escaping
// (letters, digits, '_', '.', '-').
std::string render_metrics(const std::vector<JobStatus>& jobs);

}  // namespace batch_cleanup::observability
