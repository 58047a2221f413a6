// The process_* metrics of the Prometheus client conventions, read from /proc on Linux.
#pragma once

#include <optional>
#include <vector>

#include "observability/metric_family.h"

namespace batch_cleanup::observability {

struct ProcessStats {
  double cpu_seconds = 0;         // user + system CPU time
  double resident_bytes = 0;      // resident set size
  double virtual_bytes = 0;       // virtual memory size
  double start_time_seconds = 0;  // Unix time the process started
  double open_fds = 0;
  double max_fds = 0;  // the soft RLIMIT_NOFILE
};

// This process's statistics; nullopt when /proc cannot be read (not Linux, or no /proc mounted).
std::optional<ProcessStats> read_process_stats();

// process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
// process_start_time_seconds, process_open_fds and process_max_fds; empty without /proc.
std::vector<MetricFamily> process_families();

}  // namespace batch_cleanup::observability
