// The HTTP endpoints of a running batch_cleanup (cpp-httplib, one listener thread):
//   GET /healthz       200 "ok", or 503 with the reason (see observability/health.h)
//   GET /metrics       Prometheus text format (observability/prometheus.h)
//   GET /status        ServiceStatus::to_json() of the service
//   GET /history.json  the service's recent cycles (ServiceStatus::recent_cycles), oldest first
//   GET /              the HTML status page (http/status_page.h)
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "batch_cleanup/service.h"

namespace httplib {
class Server;
}

namespace batch_cleanup::http {

struct ListenAddress {
  std::string host;
  int port = 0;  // 0: any free port
};

// Parses "HOST:PORT" ("127.0.0.1:9187", "[::1]:9187", "localhost:0"). Throws ConfigError.
ListenAddress parse_listen_address(const std::string& text);

class StatusServer {
 public:
  // `service` must outlive the server.
  StatusServer(const BatchCleanupService& service, std::int64_t unhealthy_after);
  // Stops the server (as stop()).
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  // Binds `address` and serves on a background thread. Returns the bound port. Throws
  // ConfigError when the address cannot be bound (in use, not local, ...).
  int start(const ListenAddress& address);

  // Stops serving and joins the thread. Idempotent.
  void stop();

 private:
  const BatchCleanupService& service_;
  std::int64_t unhealthy_after_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace batch_cleanup::http
