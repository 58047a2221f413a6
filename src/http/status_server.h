// The HTTP endpoints of a running batch_cleanup (cpp-httplib, one listener thread):
//   GET /healthz       200 "ok", or 503 with the reason (see observability/health.h)
//   GET /metrics       Prometheus text format (observability/prometheus.h)
//   GET /status        ServiceStatus::to_json() of the service
//   GET /history.json  the service's recent cycles (ServiceStatus::recent_cycles), oldest first
//   GET /              the HTML status page (http/status_page.h)
// With several (named) jobs: /healthz is unhealthy when any job is; /metrics labels every sample
// job="NAME"; /status is {"jobs":[<a job's status, plus "job">...]}; /history.json holds every
// job's cycles (each with its "job"), oldest first; the page lists the jobs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

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

// A job the server reports on.
struct JobService {
  std::string name;
  const BatchCleanupService* service = nullptr;
};

class StatusServer {
 public:
  // `service` must outlive the server.
  StatusServer(const BatchCleanupService& service, std::int64_t unhealthy_after);
  // Every service must outlive the server. With `named_jobs` false and one job, the endpoints
  // answer exactly as for a single service (no job label or field).
  StatusServer(std::vector<JobService> jobs, std::int64_t unhealthy_after, bool named_jobs);
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
  // The body of /status (and of the page).
  std::string status_json() const;

  std::vector<JobService> jobs_;
  bool named_jobs_;
  std::int64_t unhealthy_after_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace batch_cleanup::http
