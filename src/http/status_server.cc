#include "http/status_server.h"

#include <httplib.h>

#include <charconv>

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
    : service_(service),
      unhealthy_after_(unhealthy_after),
      server_(std::make_unique<httplib::Server>()) {
  server_->Get("/healthz", [this](const httplib::Request&, httplib::Response& response) {
    const auto health = observability::evaluate_health(service_.status(), unhealthy_after_);
    response.status = health.healthy ? 200 : 503;
    response.set_content(health.reason + "\n", "text/plain; charset=utf-8");
  });
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    response.set_content(observability::render_metrics(service_.status()),
                         observability::kPrometheusContentType);
  });
  server_->Get("/status", [this](const httplib::Request&, httplib::Response& response) {
    response.set_header("Cache-Control", "no-store");
    response.set_content(service_.status().to_json(), "application/json");
  });
  server_->Get("/history.json", [this](const httplib::Request&, httplib::Response& response) {
    std::string body = "[";
    const auto status = service_.status();
    for (std::size_t i = 0; i < status.recent_cycles.size(); ++i) {
      if (i) body += ',';
      body += status.recent_cycles[i].to_json();
    }
    body += "]";
    response.set_header("Cache-Control", "no-store");
    response.set_content(body, "application/json");
  });
  server_->Get("/", [this](const httplib::Request&, httplib::Response& response) {
    response.set_header("Cache-Control", "no-store");
    response.set_content(render_status_page(service_.status().to_json()),
                         "text/html; charset=utf-8");
  });
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
