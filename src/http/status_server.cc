#include "http/status_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "batch_cleanup/errors.h"
#include "engine/report_json.h"
#include "http/job_info.h"
#include "http/status_page.h"
#include "log/logger.h"
#include "observability/health.h"
#include "observability/prometheus.h"

namespace batch_cleanup::http {
namespace {

HttpReply no_store(std::string body, std::string content_type) {
  HttpReply reply;
  reply.body = std::move(body);
  reply.content_type = std::move(content_type);
  reply.headers.emplace_back("Cache-Control", "no-store");
  return reply;
}

// A probe's answer: its status code, and the reasons only to an authenticated client (they may
// name hosts and errors).
HttpReply probe(const HttpRequest& request, const observability::Health& health,
                const std::string& body) {
  auto reply = no_store(request.authenticated ? body : (health.healthy ? "ok\n" : "unavailable\n"),
                        "text/plain; charset=utf-8");
  reply.status = health.healthy ? 200 : 503;
  return reply;
}

// Whether `host` (of --http-listen) reaches no further than this machine.
bool loopback_only(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

}  // namespace

ListenAddress parse_listen_address(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    throw ConfigError("invalid --http-listen '" + text + "': use HOST:PORT, e.g. 127.0.0.1:9187");
  }
  ListenAddress address;
  address.host = text.substr(0, colon);
  if (address.host.size() > 2 && address.host.front() == '[' && address.host.back() == ']') {
    address.host = address.host.substr(1, address.host.size() - 2);
  }
  const std::string port = text.substr(colon + 1);
  const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), address.port);
  if (error != std::errc() || end != port.data() + port.size() || address.port < 0 ||
      address.port > 65535) {
    throw ConfigError("invalid --http-listen port '" + port + "': use 0..65535");
  }
  return address;
}

StatusServer::StatusServer(std::vector<JobService> jobs, ServerOptions options)
    : jobs_(std::move(jobs)), options_(std::move(options)) {
  options_.named_jobs = options_.named_jobs || jobs_.size() != 1;
  server_ = std::make_unique<HttpDaemon>(
      [this](const HttpRequest& request) { return route(request); },
      std::set<std::string>{"/livez", "/readyz", "/healthz"}, options_.web);
}

observability::JobStatuses StatusServer::statuses() const {
  observability::JobStatuses out;
  for (const auto& job : jobs_) out.emplace_back(job.name, job.service->status());
  return out;
}

HttpReply StatusServer::route(const HttpRequest& request) const {
  if (request.path == "/livez") {
    const auto health =
        observability::evaluate_liveness(statuses(), options_.daemon && workers_started_);
    return probe(request, health, health.reason + "\n");
  }
  if (request.path == "/readyz") return readyz(request);
  if (request.path == "/healthz") {
    const auto health = options_.named_jobs
                            ? observability::evaluate_health(statuses(), options_.unhealthy_after)
                            : observability::evaluate_health(jobs_.front().service->status(),
                                                             options_.unhealthy_after);
    return probe(request, health, health.reason + "\n");
  }
  if (request.path == "/metrics") {
    std::vector<observability::JobStatus> all;
    for (const auto& job : jobs_) all.push_back({job.name, job.service->status()});
    HttpReply reply;
    reply.content_type = observability::kPrometheusContentType;
    reply.body = observability::render_metrics(
        all, {.label_jobs = options_.named_jobs, .process_metrics = true});
    return reply;
  }
  if (request.path == "/status") return no_store(status_json().dump(), "application/json");
  if (request.path == "/history.json") return history();
  if (request.path == "/") {
    return no_store(render_status_page(status_json().dump()), "text/html; charset=utf-8");
  }
  HttpReply reply;
  reply.status = 404;
  reply.body = "not found\n";
  return reply;
}

HttpReply StatusServer::readyz(const HttpRequest& request) const {
  const auto all = statuses();
  if (const auto job_param = request.query.find("job"); job_param != request.query.end()) {
    const auto& name = job_param->second;
    const auto job = std::find_if(all.begin(), all.end(),
                                  [&](const auto& entry) { return entry.first == name; });
    if (job == all.end()) {
      HttpReply reply;
      reply.status = 404;
      reply.body = request.authenticated ? "no job '" + name + "'\n" : "no such job\n";
      return reply;
    }
    const auto health = observability::evaluate_health(job->second, options_.unhealthy_after);
    return probe(request, health, health.reason + "\n");
  }
  const auto health =
      options_.named_jobs
          ? observability::evaluate_health(all, options_.unhealthy_after)
          : observability::evaluate_health(all.front().second, options_.unhealthy_after);
  std::string body = health.reason + "\n";
  if (options_.named_jobs) {
    for (const auto& [name, status] : all) {
      body += "job " + name + ": " +
              observability::evaluate_health(status, options_.unhealthy_after).reason + "\n";
    }
  }
  return probe(request, health, body);
}

HttpReply StatusServer::history() const {
  std::vector<RunRecord> cycles;
  for (const auto& job : jobs_) {
    const auto status = job.service->status();
    cycles.insert(cycles.end(), status.recent_cycles.begin(), status.recent_cycles.end());
  }
  // Every job's cycles, oldest first (each job's list already is).
  if (options_.named_jobs) {
    std::stable_sort(cycles.begin(), cycles.end(), [](const RunRecord& a, const RunRecord& b) {
      return a.started_at < b.started_at;
    });
  }
  auto body = nlohmann::json::array();
  for (const auto& cycle : cycles) body.push_back(engine::run_record_json(cycle));
  return no_store(body.dump(), "application/json");
}

nlohmann::json StatusServer::status_json() const {
  const auto one = [](const JobService& job) {
    auto status = engine::status_json(job.service->status());
    status["info"] = job_info(job.service->config());
    return status;
  };
  if (!options_.named_jobs) return one(jobs_.front());
  auto jobs = nlohmann::json::array();
  for (const auto& job : jobs_) {
    auto status = one(job);
    status["job"] = job.name;
    jobs.push_back(std::move(status));
  }
  return nlohmann::json{{"jobs", jobs}};
}

StatusServer::~StatusServer() { stop(); }

int StatusServer::start(const ListenAddress& address) {
  const int port = server_->start(address.host, address.port);
  const bool tls = server_->tls();
  logging::logger()->info(
      "http server listening on {}://{}:{}/ (/livez, /readyz, /healthz, /metrics, /status, "
      "/history.json, and the status page at /){}",
      tls ? "https" : "http", address.host, port,
      server_->authenticates() ? "; basic authentication on (the probes answer without it)" : "");
  if (!loopback_only(address.host) && (!tls || !server_->authenticates())) {
    logging::logger()->warn(
        "--http-listen {}:{} reaches beyond this machine {}: anyone who reaches the port reads "
        "the status of every job{}; give a --web-config-file with tls_server_config and "
        "basic_auth_users, or listen on 127.0.0.1 behind a proxy that protects it",
        address.host, port,
        !tls && !server_->authenticates() ? "without TLS or authentication"
        : !tls                            ? "without TLS"
                                          : "without authentication",
        tls ? "" : ", and sees it in clear");
  }
  return port;
}

void StatusServer::stop() {
  if (server_) server_->stop();
}

}  // namespace batch_cleanup::http
