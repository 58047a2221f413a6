// The verdicts of the probes: /livez (liveness), /readyz and /healthz (readiness), from the
// services' status.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "batch_cleanup/service.h"

namespace batch_cleanup::observability {

struct Health {
  bool healthy = true;
  std::string reason;  // "ok", or why not
};

// A job's name and its status.
using JobStatuses = std::vector<std::pair<std::string, ServiceStatus>>;

// Readiness of one job (/readyz?job=NAME; /healthz of a single job). Not ready when the last
// cycle could not reach the database, when `unhealthy_after` or more cycles failed in a row, or
// when the job halted on a configuration or guard error. Ready while cycles succeed (also
// partial or interrupted ones) and before the first cycle.
Health evaluate_health(const ServiceStatus& status, std::int64_t unhealthy_after);

// Several jobs (/healthz, /readyz): not ready when any job is; the reason names the first such
// job ("job NAME: ...").
Health evaluate_health(const JobStatuses& jobs, std::int64_t unhealthy_after);

// Liveness (/livez): the process runs and, with `daemon`, every job's worker thread runs or was
// halted on purpose (a configuration or guard error, which a restart does not fix). The
// database plays no part: an outage must not get the process restarted.
Health evaluate_liveness(const JobStatuses& jobs, bool daemon);

}  // namespace batch_cleanup::observability
