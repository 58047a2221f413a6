#include "http/status_server.h"

#include <httplib.h>

#include <algorithm>
#include <charconv>

#include "batch_cleanup/errors.h"
#include "engine/report_json.h"
#include "http/job_info.h"
#include "http/status_page.h"
#include "log/logger.h"
#include "observability/health.h"
#include "observability/prometheus.h"

namespace batch_cleanup::http {
namespace {

constexpr const char* kText = "text/plain; charset=utf-8";

void answer(httplib::Response& response, const observability::Health& health,
            const std::string& body) {
  response.status = health.healthy ? 200 : 503;
  response.set_header("Cache-Control", "no-store");
  response.set_content(body, kText);
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
    : jobs_(std::move(jobs)), options_(options), server_(std::make_unique<httplib::Server>()) {
  options_.named_jobs = options_.named_jobs || jobs_.size() != 1;
  const auto statuses = [this] {
    observability::JobStatuses out;
    for (const auto& job : jobs_) out.emplace_back(job.name, job.service->status());
    return out;
  };
  server_->Get("/livez", [this, statuses](const httplib::Request&, httplib::Response& response) {
    const auto health =
        observability::evaluate_liveness(statuses(), options_.daemon && workers_started_);
    answer(response, health, health.reason + "\n");
  });
  server_->Get(
      "/readyz", [this, statuses](const httplib::Request& request, httplib::Response& response) {
        const auto all = statuses();
        if (request.has_param("job")) {
          const auto name = request.get_param_value("job");
          const auto job = std::find_if(all.begin(), all.end(),
                                        [&](const auto& entry) { return entry.first == name; });
          if (job == all.end()) {
            response.status = 404;
            response.set_content("no job '" + name + "'\n", kText);
            return;
          }
          const auto health = observability::evaluate_health(job->second, options_.unhealthy_after);
          answer(response, health, health.reason + "\n");
          return;
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
        answer(response, health, body);
      });
  server_->Get("/healthz", [this, statuses](const httplib::Request&, httplib::Response& response) {
    const auto health = options_.named_jobs
                            ? observability::evaluate_health(statuses(), options_.unhealthy_after)
                            : observability::evaluate_health(jobs_.front().service->status(),
                                                             options_.unhealthy_after);
    answer(response, health, health.reason + "\n");
  });
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    std::vector<observability::JobStatus> all;
    for (const auto& job : jobs_) all.push_back({job.name, job.service->status()});
    response.set_content(observability::render_metrics(
                             all, {.label_jobs = options_.named_jobs, .process_metrics = true}),
                         observability::kPrometheusContentType);
  });
  server_->Get("/status", [this](const httplib::Request&, httplib::Response& response) {
    response.set_header("Cache-Control", "no-store");
    response.set_content(status_json().dump(), "application/json");
  });
  server_->Get("/history.json", [this](const httplib::Request&, httplib::Response& response) {
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
    response.set_header("Cache-Control", "no-store");
    response.set_content(body.dump(), "application/json");
  });
  server_->Get("/", [this](const httplib::Request&, httplib::Response& response) {
    response.set_header("Cache-Control", "no-store");
    response.set_content(render_status_page(status_json().dump()), "text/html; charset=utf-8");
  });
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
  logging::logger()->info(
      "http server listening on http://{}:{}/ (/livez, /readyz, /healthz, /metrics, /status, "
      "/history.json, and the status page at /)",
      address.host, port);
  return port;
}

void StatusServer::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace batch_cleanup::http
