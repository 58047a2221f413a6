// Who this process is, in terms another process can check: the host, the kernel instance and
// PID namespace it runs in, its process id and its start time (/proc/<pid>/stat field 22). A
// lease records them, so that a process on the same host can prove its holder dead.
#pragma once

#include <cstdint>
#include <string>

namespace batch_cleanup::util {

struct ProcessIdentity {
  std::string host;     // the host name
  std::string host_id;  // boot id and PID namespace: "same host" for process ids to compare
  std::int64_t pid = 0;
  std::int64_t start_ticks = 0;  // clock ticks after boot the process started
};

// This process. host_id is $BATCH_CLEANUP_HOST_ID when set (containers that share a boot id
// and a PID namespace but must not compare process ids; tests).
const ProcessIdentity& this_process();

// True only when `holder` provably no longer runs: it ran on this host (the same host_id) and
// no process `pid` exists, or one with another start time (the id was reused). False when it
// may still run, or ran elsewhere.
bool process_provably_gone(const ProcessIdentity& holder);

}  // namespace batch_cleanup::util
