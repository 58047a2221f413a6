// The health verdict of /healthz, from a service's status.
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

// Unhealthy when the last cycle could not reach the database, when `unhealthy_after` or more
// cycles failed in a row, or when the background thread halted on a configuration error.
// Healthy while cycles succeed (also partial or interrupted ones) and before the first cycle.
Health evaluate_health(const ServiceStatus& status, std::int64_t unhealthy_after);

// Several jobs: unhealthy when any job is; the reason names the first such job ("job NAME: ...").
Health evaluate_health(const std::vector<std::pair<std::string, ServiceStatus>>& jobs,
                       std::int64_t unhealthy_after);

}  // namespace batch_cleanup::observability
