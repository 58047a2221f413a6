// What a job cleans and how, for /status and the status page: the target (backend, database with
// the password redacted, tables), the version, the interval and the active policies.
#pragma once

#include <nlohmann/json.hpp>

#include "batch_cleanup/config.h"

namespace batch_cleanup::http {

// {"version", "backend", "database" (redacted), "users_table", "pending_table",
//  "interval_ms", "dry_run", "policies": ["email (lower-trim)", ...],
//  "protections": ["min-age 15m", ...], "archive_table"}
nlohmann::json job_info(const CleanupConfig& config);

}  // namespace batch_cleanup::http
