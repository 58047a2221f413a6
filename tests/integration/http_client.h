// Test helpers for the HTTP endpoints of a running batch_cleanup (cpp-httplib's client).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "integration/process.h"

namespace batch_cleanup::testing {

struct HttpResponse {
  int status = 0;  // 0: no response (connection refused, ...)
  std::string body;
  std::string content_type;
};

// GET http://127.0.0.1:port/path
HttpResponse http_get(int port, const std::string& path);

// Waits for the "http server listening on http://HOST:PORT/" log line of `child` and returns
// PORT; 0 after `timeout`.
int wait_for_http_port(const ChildProcess& child,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20));

// Polls `condition` every 50 ms until it holds or `timeout` passes; returns its last value.
bool wait_until(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(30));

// The value of the sample named exactly `series` (e.g. `x_total` or `x{outcome="failed"}`)
// in a Prometheus text exposition; nullopt when absent.
std::optional<double> metric_value(const std::string& exposition, const std::string& series);

}  // namespace batch_cleanup::testing
