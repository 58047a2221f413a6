// The HTTP server under the status server: libmicrohttpd, driven by one thread of ours over epoll,
// so that a connection costs a socket and a little memory, never a thread. A slow client (one
// that sends a header line now and then) therefore cannot starve the others: /livez answers
// while any number of them, up to the connection limits, hold connections.
//
// Limits, fixed:
//   - at most kMaxConnections connections, kMaxConnectionsPerAddress from one client address;
//     a connection past either limit is accepted and closed at once;
//   - a request must arrive whole (request line, headers, body) and its response be taken within
//     kRequestTimeout of its request line;
//   - a connection must send a complete request line within kIdleTimeout of being opened or of its
//     previous response (and is closed after kIdleTimeout without traffic).
// TLS and basic authentication come from a --web-config-file (http/web_config.h).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "http/basic_auth.h"
#include "http/web_config.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace batch_cleanup::http {

inline constexpr int kMaxConnections = 256;
inline constexpr int kMaxConnectionsPerAddress = 32;
inline constexpr std::chrono::seconds kRequestTimeout{10};
inline constexpr std::chrono::seconds kIdleTimeout{30};

struct HttpRequest {
  std::string method;  // GET or HEAD (others are answered 405 before a handler sees them)
  std::string path;
  std::map<std::string, std::string> query;
  // Basic authentication is off or the request carried valid credentials, and the client
  // certificate (when tls_server_config.client_auth_type asks for one) was accepted.
  bool authenticated = false;
};

struct HttpReply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

using HttpHandler = std::function<HttpReply(const HttpRequest&)>;

class HttpDaemon {
 public:
  // `public_paths` are served without credentials when basic authentication is on, and without
  // the client certificate that tls_server_config.client_auth_type asks for (the handler sees
  // authenticated = false); every other path answers 401 without credentials and 403 without an
  // accepted certificate. Wrong credentials are refused (401) on every path.
  HttpDaemon(HttpHandler handler, std::set<std::string> public_paths, WebConfig web_config);
  ~HttpDaemon();
  HttpDaemon(const HttpDaemon&) = delete;
  HttpDaemon& operator=(const HttpDaemon&) = delete;

  // Binds host:port (port 0: any free port), starts serving on a thread of its own and returns the
  // bound port. Throws ConfigError when the address cannot be bound or TLS cannot start.
  int start(const std::string& host, int port);

  // Stops serving, closes every connection and joins the thread. Idempotent.
  void stop();

  bool tls() const { return web_config_.tls.has_value(); }
  bool authenticates() const { return auth_.enabled(); }

  struct Connection;  // per-connection state (http_daemon.cc)

 private:
  friend struct Callbacks;

  void run();
  void close_overdue();

  HttpHandler handler_;
  std::set<std::string> public_paths_;
  WebConfig web_config_;
  BasicAuth auth_;
  std::string priorities_;
  MHD_Daemon* daemon_ = nullptr;
  int listen_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  // Owned here; touched only by the serving thread (MHD runs every callback on it).
  std::set<Connection*> connections_;
};

}  // namespace batch_cleanup::http
