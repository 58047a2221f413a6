#include "integration/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace batch_cleanup::testing {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string temp_path(const char* tag) {
  std::string pattern = std::string("/tmp/bc_test_") + tag + "_XXXXXX";
  const int fd = mkstemp(pattern.data());
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  close(fd);
  return pattern;
}

}  // namespace

// The binary under test: this build's, unless BATCH_CLEANUP_TEST_BINARY names another build's
// (scripts/sanitize.sh runs these cases against its sanitized binary).
const char* tool_binary() {
  const char* other = std::getenv("BATCH_CLEANUP_TEST_BINARY");
  return other != nullptr && *other != '\0' ? other : BATCH_CLEANUP_BINARY;
}

ChildProcess::ChildProcess(const std::vector<std::string>& args,
                           const std::map<std::string, std::string>& env, bool clear_database_url)
    : out_path_(temp_path("out")),
      err_path_(temp_path("err")),
      started_(std::chrono::steady_clock::now()) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    const auto name = entry.substr(0, entry.find('='));
    if (env.count(name)) continue;
    if (clear_database_url && (name == "DATABASE_URL" || name.rfind("BATCH_CLEANUP_", 0) == 0 ||
                               name == "LOG_LEVEL" || name.rfind("PG", 0) == 0)) {
      continue;
    }
    env_strings.push_back(entry);
  }
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = args;
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // Unblock signals the test runner may have blocked.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    const int out = open(out_path_.c_str(), O_WRONLY | O_TRUNC);
    const int err = open(err_path_.c_str(), O_WRONLY | O_TRUNC);
    const int in = open("/dev/null", O_RDONLY);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (!waited_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  unlink(out_path_.c_str());
  unlink(err_path_.c_str());
}

void ChildProcess::signal(int sig) const { kill(pid_, sig); }

std::string ChildProcess::current_err() const { return read_file(err_path_); }
std::string ChildProcess::current_out() const { return read_file(out_path_); }

ProcessResult ChildProcess::wait(std::chrono::milliseconds timeout) {
  ProcessResult result;
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) break;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      result.err = "[test harness: killed after timeout]\n";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  waited_ = true;
  result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started_);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
  result.out = read_file(out_path_);
  result.err += read_file(err_path_);
  return result;
}

ProcessResult run_tool(const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& env,
                       std::chrono::milliseconds timeout) {
  std::vector<std::string> full{tool_binary()};
  full.insert(full.end(), args.begin(), args.end());
  ChildProcess child(full, env);
  return child.wait(timeout);
}

}  // namespace batch_cleanup::testing
