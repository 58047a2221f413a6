// The HTTP endpoints of a running batch_cleanup (libmicrohttpd, http/http_daemon.h):
//   GET /livez              liveness: 200 while the process and its worker threads run, whatever
//                           the database does; 503 with the reason otherwise
//   GET /readyz[?job=NAME]  readiness: 503 while the database is unreachable, the last
//                           --unhealthy-after cycles failed or the job halted; 200 otherwise.
//                           Without ?job the state of every job (503 when any is not ready);
//                           404 for a job that does not exist
//   GET /healthz            200 "ok", or 503 with the reason: the same verdict as /readyz
//   GET /metrics            Prometheus text format (observability/prometheus.h)
//   GET /status             the service's status (engine::status_json) plus what the job cleans
//                           (http/job_info.h)
//   GET /history.json       the service's recent cycles (ServiceStatus::recent_cycles), oldest
//                           first
//   GET /                   the HTML status page (http/status_page.h)
// With basic authentication (--web-config-file basic_auth_users) or a client_auth_type, every
// path needs credentials (and the certificate) except the probes /livez, /readyz and /healthz:
// without them those answer their status code with a body of "ok" or "unavailable" alone (the
// reasons may name hosts and errors), so that Kubernetes probes need no secret in the pod spec.
// Wrong credentials are refused everywhere.
// With several (named) jobs: /metrics labels every job's samples cleanup_job="NAME"; /status is
// {"jobs":[<a job's status, plus "job">...]}; /history.json holds every job's cycles (each with
// its "job"), oldest first; the page draws a chart per job.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "batch_cleanup/service.h"
#include "http/http_daemon.h"
#include "http/web_config.h"
#include "observability/health.h"

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

struct ServerOptions {
  // /readyz and /healthz answer 503 after this many consecutive failed cycles.
  std::int64_t unhealthy_after = 3;
  // The jobs come from a configuration file's [[job]] tables. With false and one job, the
  // endpoints answer exactly as for a single service (no job label or field).
  bool named_jobs = false;
  // The jobs run their own worker threads (--daemon): once set_workers_started() was called,
  // /livez checks that they still do.
  bool daemon = false;
  // TLS and basic authentication (--web-config-file); empty: plain HTTP, no authentication.
  WebConfig web;
};

class StatusServer {
 public:
  // Every service must outlive the server.
  StatusServer(std::vector<JobService> jobs, ServerOptions options);
  // Stops the server (as stop()).
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  // Binds `address` and serves on a background thread. Returns the bound port. Throws
  // ConfigError when the address cannot be bound (in use, not local, ...) or TLS cannot start.
  // Warns when the address reaches beyond loopback without TLS or without authentication.
  int start(const ListenAddress& address);

  // Stops serving and joins the thread. Idempotent.
  void stop();

  // With options.daemon: the jobs' worker threads have been started. Thread-safe.
  void set_workers_started() { workers_started_ = true; }

 private:
  // The body of /status (and of the page).
  nlohmann::json status_json() const;
  // The answer to one request (every route).
  HttpReply route(const HttpRequest& request) const;
  HttpReply readyz(const HttpRequest& request) const;
  HttpReply history() const;
  observability::JobStatuses statuses() const;

  std::vector<JobService> jobs_;
  ServerOptions options_;
  std::atomic<bool> workers_started_{false};
  std::unique_ptr<HttpDaemon> server_;
};

}  // namespace batch_cleanup::http
