#include "http/status_server.h"

#include <httplib.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "batch_cleanup/errors.h"
#include "http/status_page.h"
#include "log/logger.h"
#include "observability/health.h"
#include "observability/prometheus.h"

namespace batch_cleanup::http {

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

StatusServer::StatusServer(const BatchCleanupService& service, std::int64_t unhealthy_after)
    : StatusServer({JobService{"default", &service}}, unhealthy_after, false) {}

StatusServer::StatusServer(std::vector<JobService> jobs, std::int64_t unhealthy_after,
                           bool named_jobs)
    : jobs_(std::move(jobs)),
      named_jobs_(named_jobs || jobs_.size() != 1),
      unhealthy_after_(unhealthy_after),
      server_(std::make_unique<httplib::Server>()) {
  server_->Get("/healthz", [this](const httplib::Request&, httplib::Response& response) {
    observability::Health health;
    if (named_jobs_) {
      std::vector<std::pair<std::string, ServiceStatus>> statuses;
      for (const auto& job : jobs_) statuses.emplace_back(job.name, job.service->status());
      health = observability::evaluate_health(statuses, unhealthy_after_);
    } else {
      health = observability::evaluate_health(jobs_.front().service->status(), unhealthy_after_);
    }
    response.status = health.healthy ? 200 : 503;
    response.set_content(health.reason + "\n", "text/plain; charset=utf-8");
  });
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    if (named_jobs_) {
      std::vector<observability::JobStatus> statuses;
      for (const auto& job : jobs_) statuses.push_back({job.name, job.service->status()});
      response.set_content(observability::render_metrics(statuses),
                           observability::kPrometheusContentType);
    } else {
      response.set_content(observability::render_metrics(jobs_.front().service->status()),
                           observability::kPrometheusContentType);
    }
  });
  server_->Get("/status", [this](const httplib::Request&, httplib::Response& response) {
    response.set_header("Cache-Control", "no-store");
    response.set_content(status_json(), "application/json");
  });
  server_->Get("/history.json", [this](const httplib::Request&, httplib::Response& response) {
    std::vector<RunRecord> cycles;
    for (const auto& job : jobs_) {
      const auto status = job.service->status();
      cycles.insert(cycles.end(), status.recent_cycles.begin(), status.recent_cycles.end());
    }
    // Every job's cycles, oldest first (each job's list already is).
    if (named_jobs_) {
      std::stable_sort(cycles.begin(), cycles.end(), [](const RunRecord& a, const RunRecord& b) {
        return a.started_at < b.started_at;
      });
    }
    std::string body = "[";
    for (std::size_t i = 0; i < cycles.size(); ++i) {
      if (i) body += ',';
      body += cycles[i].to_json();
    }
    body += "]";
    response.set_header("Cache-Control", "no-store");
    response.set_content(body, "application/json");
  });
  server_->Get("/", [this](const httplib::Request&, httplib::Response& response) {
    response.set_header("Cache-Control", "no-store");
    response.set_content(render_status_page(status_json()), "text/html; charset=utf-8");
  });
}

std::string StatusServer::status_json() const {
  if (!named_jobs_) return jobs_.front().service->status().to_json();
  auto jobs = nlohmann::json::array();
  for (const auto& job : jobs_) {
    auto status = nlohmann::json::parse(job.service->status().to_json());
    status["job"] = job.name;
    jobs.push_back(std::move(status));
  }
  return nlohmann::json{{"jobs", jobs}}.dump();
}

StatusServer::~StatusServer() { stop(); }

int StatusServer::start(const ListenAddress& address) {
  int port = address.port;
  if (port == 0) {
    port = server_->bind_to_any_port(address.host);
    if (port < 0) port = 0;
  } else if (!server_->bind_to_port(address.host, port)) {
    port = 0;
  }
  if (port == 0) {
    throw ConfigError("cannot listen on " + address.host + ":" + std::to_string(address.port) +
                      " for --http-listen (address in use or not local?)");
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  logging::logger()->info("http server listening on http://{}:{}/ (healthz, metrics, status)",
                          address.host, port);
  return port;
}

void StatusServer::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace batch_cleanup::http
