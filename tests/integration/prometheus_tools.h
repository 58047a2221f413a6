// The Prometheus programs the tests run as their own processes (Debian's prometheus, promtool,
// prometheus-pushgateway, prometheus-node-exporter), each on a loopback port with its own files
// in a temporary directory.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "integration/process.h"

namespace batch_cleanup::testing {

// A loopback port in 54360..54369 that nothing listens on, reserved for this process until the
// lease is destroyed (an flock on /tmp/bc_test_port_<port>.lock), so that tests running in
// parallel processes never pick the same one. port() is 0 when every port is taken.
class PortLease {
 public:
  PortLease();
  ~PortLease();
  PortLease(const PortLease&) = delete;
  PortLease& operator=(const PortLease&) = delete;
  int port() const { return port_; }

 private:
  int port_ = 0;
  int lock_fd_ = -1;
};

// A temporary directory, removed with everything in it at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes `text` to path()/name and returns the file's path.
  std::string write(const std::string& name, const std::string& text) const;

 private:
  std::string path_;
};

// A server program run by the test; killed (SIGTERM, then SIGKILL) at destruction.
class ToolServer {
 public:
  // Starts `args` and waits up to 30 s until GET `ready_path` on `port` answers 200 (or
  // 401, a server behind basic auth).
  ToolServer(const std::vector<std::string>& args, int port, const std::string& ready_path);
  ~ToolServer();
  ToolServer(const ToolServer&) = delete;
  ToolServer& operator=(const ToolServer&) = delete;
  bool ready() const { return ready_; }
  int port() const { return port_; }
  std::string log() const { return child_.current_err() + child_.current_out(); }

 private:
  ChildProcess child_;
  int port_;
  bool ready_ = false;
};

// Evaluates `expr` at the current time through Prometheus's HTTP API (/api/v1/query) and
// returns data.result; a JSON object {"error": ...} when the API refused the query.
nlohmann::json prometheus_query(int port, const std::string& expr);

// `promtool check metrics` of `exposition`: its exit code and output.
ProcessResult promtool_check_metrics(const std::string& exposition);

// The value of batch_cleanup_dependent_rows_total for `table` and `action` in a metrics file
// (-1 when there is no such series).
long long dependent_metric(const std::string& path, const std::string& table,
                           const std::string& action);

// Percent-encoding of a URL query value.
std::string url_encode(const std::string& text);

// Whether a program is installed (scripts/install-deps.sh installs them); when it is not, the
// caller fails (BATCH_CLEANUP_REQUIRE_PG=1, as under scripts/test.sh) or skips.
bool program_installed(const std::string& path);

}  // namespace batch_cleanup::testing
