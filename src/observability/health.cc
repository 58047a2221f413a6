#include "observability/health.h"

namespace batch_cleanup::observability {

Health evaluate_health(const ServiceStatus& status, std::int64_t unhealthy_after) {
  if (status.halted_on_config_error) {
    return {false, "halted on a configuration error: " + status.last_error};
  }
  if (status.consecutive_failures > 0 && status.database_unreachable) {
    return {false, "database unreachable: " + status.last_error};
  }
  if (status.consecutive_failures >= unhealthy_after) {
    return {false, std::to_string(status.consecutive_failures) +
                       " consecutive failed cycle(s): " + status.last_error};
  }
  return {true, "ok"};
}

Health evaluate_health(const JobStatuses& jobs, std::int64_t unhealthy_after) {
  for (const auto& [job, status] : jobs) {
    auto health = evaluate_health(status, unhealthy_after);
    if (!health.healthy) return {false, "job " + job + ": " + health.reason};
  }
  return {true, "ok"};
}

Health evaluate_liveness(const JobStatuses& jobs, bool daemon) {
  if (!daemon) return {true, "ok"};
  for (const auto& [job, status] : jobs) {
    if (!status.running && !status.halted_on_config_error) {
      return {false, "job " + job + ": its worker thread is not running"};
    }
  }
  return {true, "ok"};
}

}  // namespace batch_cleanup::observability
