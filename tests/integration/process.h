// Runs the batch_cleanup binary (or any program) as a child process for CLI tests.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace batch_cleanup::testing {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  int term_signal = 0;
  std::string out;
  std::string err;
  std::chrono::milliseconds elapsed{0};
};

// A running child; stdout and stderr go to temporary files.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
               bool clear_database_url = true);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) const;
  // Waits up to `timeout`; kills the child with SIGKILL past it (and fails the result).
  ProcessResult wait(std::chrono::milliseconds timeout = std::chrono::seconds(120));
  // Current contents of stderr/stdout (the child may still be writing).
  std::string current_err() const;
  std::string current_out() const;

 private:
  pid_t pid_ = -1;
  std::string out_path_;
  std::string err_path_;
  std::chrono::steady_clock::time_point started_;
  bool waited_ = false;
};

// Runs the batch_cleanup binary with `args` and waits for it.
ProcessResult run_tool(const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& env = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(120));

const char* tool_binary();

}  // namespace batch_cleanup::testing
