#include "integration/http_client.h"

#include <httplib.h>

#include <regex>
#include <sstream>
#include <thread>

namespace batch_cleanup::testing {

HttpResponse http_get(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(10, 0);
  auto result = client.Get(path.c_str());
  if (!result) return {};
  return {result->status, result->body, result->get_header_value("Content-Type")};
}

int wait_for_http_port(const ChildProcess& child, std::chrono::milliseconds timeout) {
  static const std::regex kListening(R"(listening on https?://[^/\s]+:(\d+)/)");
  int port = 0;
  wait_until(
      [&] {
        std::smatch match;
        const std::string err = child.current_err();
        if (!std::regex_search(err, match, kListening)) return false;
        port = std::stoi(match[1].str());
        return true;
      },
      timeout);
  return port;
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::optional<double> metric_value(const std::string& exposition, const std::string& series) {
  std::istringstream lines(exposition);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

}  // namespace batch_cleanup::testing
