// The process-wide worker: C++ mirrors of the original Python API
// (start_batch_cleanup_worker, stop_batch_cleanup_worker, get_cleanup_status,
// run_cleanup_now). All functions are thread-safe.
#pragma once

#include <cstdint>

#include "batch_cleanup/config.h"
#include "batch_cleanup/service.h"

namespace batch_cleanup {

// Starts the process-wide background worker with `config` (validated; throws ConfigError).
// Returns false, changing nothing, when a worker is already running.
bool start_batch_cleanup_worker(const CleanupConfig& config);
// Same, with the configuration read from the environment (config_from_environment()).
bool start_batch_cleanup_worker();

// Stops the worker and waits for it (the batch in flight commits or rolls back). No-op when
// no worker runs.
void stop_batch_cleanup_worker();

// Status of the process-wide worker; `running` is false when none was started.
ServiceStatus get_cleanup_status();

// Runs one cycle now, with the running worker's configuration (or the environment's when no
// worker runs) and returns the number of rows deleted. Throws like
// BatchCleanupService::run_once().
std::int64_t run_cleanup_now();

}  // namespace batch_cleanup
