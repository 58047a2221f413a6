#include "util/process_identity.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include "batch_cleanup/history.h"

namespace batch_cleanup::util {
namespace {

std::string first_line(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string compute_host_id() {
  if (const char* given = std::getenv("BATCH_CLEANUP_HOST_ID"); given != nullptr && *given) {
    return given;
  }
  std::string id = first_line("/proc/sys/kernel/random/boot_id");
  if (id.empty()) return {};  // no /proc: nothing can be proven
  struct stat ns {};
  if (::stat("/proc/self/ns/pid", &ns) != 0) return {};
  return id + "/pidns:" + std::to_string(ns.st_ino);
}

// Field 22 of /proc/<pid>/stat; nullopt when there is no such process.
std::optional<std::int64_t> start_ticks(std::int64_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!in || !std::getline(in, text)) return std::nullopt;
  // The command name (field 2) is in parentheses and may hold spaces: count after its end.
  const auto close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  for (int index = 3; fields >> field; ++index) {
    if (index == 22) return std::strtoll(field.c_str(), nullptr, 10);
  }
  return std::nullopt;
}

}  // namespace

const ProcessIdentity& this_process() {
  static const ProcessIdentity identity = [] {
    ProcessIdentity self;
    self.host = host_name();
    self.host_id = compute_host_id();
    self.pid = ::getpid();
    self.start_ticks = start_ticks(self.pid).value_or(0);
    return self;
  }();
  return identity;
}

bool process_provably_gone(const ProcessIdentity& holder) {
  const auto& self = this_process();
  if (holder.host_id.empty() || holder.host_id != self.host_id || holder.pid <= 0 ||
      holder.start_ticks <= 0) {
    return false;
  }
  if (holder.pid == self.pid) return holder.start_ticks != self.start_ticks;
  const auto started = start_ticks(holder.pid);
  return !started || *started != holder.start_ticks;
}

}  // namespace batch_cleanup::util
