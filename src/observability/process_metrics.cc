#include "observability/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace batch_cleanup::observability {
namespace {

// "btime" of /proc/stat: the Unix time the system booted.
std::optional<double> boot_time_seconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double value = 0;
      if (in >> value) return value;
      return std::nullopt;
    }
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return std::nullopt;
}

}  // namespace

std::optional<ProcessStats> read_process_stats() {
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  // The command name (field 2) is in parentheses and may hold spaces: fields restart after ')'.
  const auto close = stat.rfind(')');
  const auto boot = boot_time_seconds();
  if (close == std::string::npos || !boot) return std::nullopt;
  std::istringstream fields(stat.substr(close + 2));
  // Field 3 (state) is the first after ')'; utime is field 14, stime 15, starttime 22, vsize 23,
  // rss 24 (proc(5)).
  std::vector<std::string> values;
  for (std::string field; values.size() < 22 && fields >> field;) values.push_back(field);
  if (values.size() < 22) return std::nullopt;
  const auto at = [&](int field) { return std::stod(values[static_cast<std::size_t>(field - 3)]); };
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  ProcessStats stats;
  stats.cpu_seconds = (at(14) + at(15)) / ticks;
  stats.start_time_seconds = *boot + at(22) / ticks;
  stats.virtual_bytes = at(23);
  stats.resident_bytes = at(24) * page;
  std::error_code error;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++stats.open_fds;
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    stats.max_fds = limit.rlim_cur == RLIM_INFINITY ? -1 : static_cast<double>(limit.rlim_cur);
  }
  return stats;
}

std::vector<MetricFamily> process_families() {
  const auto stats = read_process_stats();
  if (!stats) return {};
  const auto one = [](const char* name, MetricType type, const char* help, double value) {
    return MetricFamily{name, type, help, {Sample{"", {}, value}}};
  };
  return {
      one("process_cpu_seconds_total", MetricType::kCounter,
          "Total user and system CPU time spent in seconds.", stats->cpu_seconds),
      one("process_resident_memory_bytes", MetricType::kGauge, "Resident memory size in bytes.",
          stats->resident_bytes),
      one("process_virtual_memory_bytes", MetricType::kGauge, "Virtual memory size in bytes.",
          stats->virtual_bytes),
      one("process_start_time_seconds", MetricType::kGauge,
          "Start time of the process since unix epoch in seconds.", stats->start_time_seconds),
      one("process_open_fds", MetricType::kGauge, "Number of open file descriptors.",
          stats->open_fds),
      one("process_max_fds", MetricType::kGauge, "Maximum number of open file descriptors.",
          stats->max_fds),
  };
}

}  // namespace batch_cleanup::observability
