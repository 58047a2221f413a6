// What the engine writes to the log about a cycle's policies and a dry run's findings.
#pragma once

#include <string>

#include "batch_cleanup/config.h"
#include "batch_cleanup/report.h"
#include "store/batch_types.h"

namespace batch_cleanup::engine {

// "policies: email (lower) or expired (created_at is more than 7d ago); min-age 15m (from
// created_at); where is_verified = false; exempt: ..." for logs and explain.
std::string describe_policies(const CleanupConfig& config);

// Logs, per policy, what a dry run found it would do.
void log_policy_preview(const CleanupConfig& config, const CycleReport& report);

// Logs (at debug) what a batch had to do besides its plain path.
void log_batch_events(const store::BatchResult& result);

}  // namespace batch_cleanup::engine
