#include "integration/prometheus_tools.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "integration/http_client.h"

namespace batch_cleanup::testing {

PortLease::PortLease() {
  for (int port = 54360; port <= 54369; ++port) {
    const std::string lock = "/tmp/bc_test_port_" + std::to_string(port) + ".lock";
    const int fd = open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) continue;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      close(fd);
      continue;
    }
    const int probe = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    const bool free = bind(probe, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    close(probe);
    if (!free) {
      close(fd);
      continue;
    }
    port_ = port;
    lock_fd_ = fd;
    return;
  }
}

PortLease::~PortLease() {
  if (lock_fd_ >= 0) close(lock_fd_);
}

TempDir::TempDir() {
  char pattern[] = "/tmp/bc_prom_XXXXXX";
  const char* made = mkdtemp(pattern);
  if (made == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::write(const std::string& name, const std::string& text) const {
  const std::string file = path_ + "/" + name;
  std::ofstream(file) << text;
  return file;
}

ToolServer::ToolServer(const std::vector<std::string>& args, int port,
                       const std::string& ready_path)
    : child_(args, {}, true), port_(port) {
  // 401: up, behind basic auth (the caller then asks with its credentials).
  ready_ = wait_until(
      [&] {
        const int status = http_get(port_, ready_path).status;
        return status == 200 || status == 401;
      },
      std::chrono::seconds(30));
}

ToolServer::~ToolServer() {
  child_.signal(SIGTERM);
  child_.wait(std::chrono::seconds(10));
}

nlohmann::json prometheus_query(int port, const std::string& expr) {
  const auto response = http_get(port, "/api/v1/query?query=" + url_encode(expr));
  if (response.status == 0) return {{"error", "no answer from Prometheus"}};
  const auto body = nlohmann::json::parse(response.body, nullptr, false);
  if (body.is_discarded() || body.value("status", "") != "success") {
    return {{"error", response.body}};
  }
  return body["data"]["result"];
}

long long dependent_metric(const std::string& path, const std::string& table,
                           const std::string& action) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("batch_cleanup_dependent_rows_total{", 0) != 0) continue;
    if (line.find("table=\"" + table + "\"") == std::string::npos) continue;
    if (line.find("action=\"" + action + "\"") == std::string::npos) continue;
    return std::stoll(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

ProcessResult promtool_check_metrics(const std::string& exposition) {
  TempDir dir;
  const auto file = dir.write("exposition.prom", exposition);
  ChildProcess promtool({"/bin/sh", "-c", "exec promtool check metrics < '" + file + "'"}, {},
                        false);
  return promtool.wait(std::chrono::seconds(30));
}

std::string url_encode(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    }
  }
  return out;
}

bool program_installed(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

}  // namespace batch_cleanup::testing
