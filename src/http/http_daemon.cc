#include "http/http_daemon.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>

#include "batch_cleanup/errors.h"
#include "log/logger.h"

namespace batch_cleanup::http {

using Clock = std::chrono::steady_clock;

struct HttpDaemon::Connection {
  int fd = -1;
  // Closed (shut down) when still open at this point.
  Clock::time_point deadline;
};

namespace {

// The access handler's marker for "this request was seen".
int seen_marker = 0;

HttpDaemon::Connection* connection_of(MHD_Connection* connection) {
  const auto* info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return info == nullptr ? nullptr : static_cast<HttpDaemon::Connection*>(info->socket_context);
}

void set_deadline(MHD_Connection* connection, std::chrono::seconds after) {
  if (auto* state = connection_of(connection)) state->deadline = Clock::now() + after;
}

MHD_Result send_reply(MHD_Connection* connection, const HttpReply& reply, bool challenge = false) {
  auto* response = MHD_create_response_from_buffer(
      reply.body.size(), const_cast<char*>(reply.body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, reply.content_type.c_str());
  for (const auto& [name, value] : reply.headers) {
    MHD_add_response_header(response, name.c_str(), value.c_str());
  }
  const auto result =
      challenge ? MHD_queue_basic_auth_fail_response(connection, "batch_cleanup", response)
                : MHD_queue_response(connection, static_cast<unsigned>(reply.status), response);
  MHD_destroy_response(response);
  return result;
}

HttpReply text_reply(int status, std::string body) {
  HttpReply reply;
  reply.status = status;
  reply.body = std::move(body);
  return reply;
}

MHD_Result collect_argument(void* cls, MHD_ValueKind, const char* key, const char* value) {
  static_cast<std::map<std::string, std::string>*>(cls)->emplace(key,
                                                                 value == nullptr ? "" : value);
  return MHD_YES;
}

// Whether the TLS client passed `kind` (exporter-toolkit's client_auth_type, as Go's crypto/tls).
bool client_certificate_accepted(MHD_Connection* connection, ClientAuth kind) {
  if (kind == ClientAuth::kNoClientCert || kind == ClientAuth::kRequestClientCert) return true;
  const auto* info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  if (info == nullptr || info->tls_session == nullptr) return false;
  auto* session = static_cast<gnutls_session_t>(info->tls_session);
  unsigned count = 0;
  const bool given = gnutls_certificate_get_peers(session, &count) != nullptr && count > 0;
  if (!given) return kind == ClientAuth::kVerifyClientCertIfGiven;
  if (kind == ClientAuth::kRequireAnyClientCert) return true;
  unsigned status = 0;
  return gnutls_certificate_verify_peers2(session, &status) == GNUTLS_E_SUCCESS && status == 0;
}

void log_from_microhttpd(void*, const char* format, va_list arguments) {
  char line[512];
  std::vsnprintf(line, sizeof line, format, arguments);
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  logging::logger()->debug("http: {}", text);
}

}  // namespace

// libmicrohttpd's callbacks; every one runs on the serving thread (HttpDaemon::run).
struct Callbacks {
  static void notify_connection(void* cls, MHD_Connection* connection, void** socket_context,
                                MHD_ConnectionNotificationCode code) {
    auto* self = static_cast<HttpDaemon*>(cls);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
      auto* state = new HttpDaemon::Connection;
      const auto* info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
      state->fd = info == nullptr ? -1 : info->connect_fd;
      state->deadline = Clock::now() + kIdleTimeout;
      self->connections_.insert(state);
      *socket_context = state;
      return;
    }
    auto* state = static_cast<HttpDaemon::Connection*>(*socket_context);
    if (state != nullptr) {
      self->connections_.erase(state);
      delete state;
      *socket_context = nullptr;
    }
  }

  // The request line has arrived: the rest of the request has kRequestTimeout.
  static void* request_started(void*, const char*, MHD_Connection* connection) {
    set_deadline(connection, kRequestTimeout);
    return nullptr;
  }

  // The response was sent: the connection may idle until its next request line.
  static void request_completed(void*, MHD_Connection* connection, void**,
                                MHD_RequestTerminationCode) {
    set_deadline(connection, kIdleTimeout);
  }

  static MHD_Result access(void* cls, MHD_Connection* connection, const char* url,
                           const char* method, const char*, const char*,
                           std::size_t* upload_data_size, void** request_state) {
    auto* self = static_cast<HttpDaemon*>(cls);
    const std::string verb(method);
    if (*request_state == nullptr) {
      // The headers are in. Answering now would close the connection (libmicrohttpd does not
      // read a request's body after an early answer): a GET is answered once it is whole.
      *request_state = &seen_marker;
      if (verb == MHD_HTTP_METHOD_GET || verb == MHD_HTTP_METHOD_HEAD) return MHD_YES;
      auto reply = text_reply(405, "only GET and HEAD are served\n");
      reply.headers.emplace_back(MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
      return send_reply(connection, reply);
    }
    if (*upload_data_size != 0) {
      // A body (of a GET): read and dropped, within the request's deadline.
      *upload_data_size = 0;
      return MHD_YES;
    }
    HttpRequest request;
    request.method = verb;
    request.path = url;
    const bool public_path = self->public_paths_.count(request.path) != 0;
    // A client certificate the configuration refuses: only the public paths, unauthenticated.
    const bool certificate_ok =
        !self->web_config_.tls ||
        client_certificate_accepted(connection, self->web_config_.tls->client_auth);
    if (!certificate_ok && !public_path) {
      return send_reply(connection, text_reply(403, "client certificate refused\n"));
    }
    request.authenticated = certificate_ok && !self->auth_.enabled();
    if (self->auth_.enabled()) {
      char* password = nullptr;
      char* user = MHD_basic_auth_get_username_password(connection, &password);
      if (user != nullptr) {
        const bool valid =
            self->auth_.check(user, password == nullptr ? std::string() : std::string(password));
        MHD_free(user);
        if (password != nullptr) MHD_free(password);
        if (!valid) return send_reply(connection, text_reply(401, "unauthorized\n"), true);
        request.authenticated = certificate_ok;
      } else if (!public_path) {
        return send_reply(connection, text_reply(401, "unauthorized\n"), true);
      }
    }
    MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, &collect_argument, &request.query);
    HttpReply reply;
    try {
      reply = self->handler_(request);
    } catch (const std::exception& error) {
      logging::logger()->error("http: {} {} failed: {}", verb, request.path, error.what());
      reply = text_reply(500, "internal error\n");
    }
    return send_reply(connection, reply);
  }
};

HttpDaemon::HttpDaemon(HttpHandler handler, std::set<std::string> public_paths,
                       WebConfig web_config)
    : handler_(std::move(handler)),
      public_paths_(std::move(public_paths)),
      web_config_(std::move(web_config)),
      auth_(web_config_.basic_auth_users) {
  if (web_config_.tls) priorities_ = gnutls_priorities(*web_config_.tls);
}

HttpDaemon::~HttpDaemon() { stop(); }

int HttpDaemon::start(const std::string& host, int port) {
  const auto refuse = [&](const std::string& why) -> int {
    throw ConfigError("cannot listen on " + host + ":" + std::to_string(port) +
                      " for --http-listen (" + why + ")");
  };
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.empty() ? nullptr : host.c_str(), std::to_string(port).c_str(), &hints,
                  &found) != 0 ||
      found == nullptr) {
    return refuse("address in use or not local?");
  }
  int family = AF_INET;
  for (const addrinfo* candidate = found; candidate != nullptr; candidate = candidate->ai_next) {
    const int fd = socket(candidate->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    const int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (bind(fd, candidate->ai_addr, candidate->ai_addrlen) == 0 && listen(fd, 128) == 0) {
      listen_fd_ = fd;
      family = candidate->ai_family;
      break;
    }
    close(fd);
  }
  freeaddrinfo(found);
  if (listen_fd_ < 0) return refuse("address in use or not local?");
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &length);
  const int bound_port =
      ntohs(family == AF_INET6 ? reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port
                               : reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);

  unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
  if (family == AF_INET6) flags |= MHD_USE_IPv6;
  std::vector<MHD_OptionItem> tls_options;
  if (web_config_.tls) {
    flags |= MHD_USE_TLS;
    const auto& tls = *web_config_.tls;
    tls_options.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, const_cast<char*>(tls.cert_pem.c_str())});
    tls_options.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, const_cast<char*>(tls.key_pem.c_str())});
    tls_options.push_back({MHD_OPTION_HTTPS_PRIORITIES, 0, const_cast<char*>(priorities_.c_str())});
    if (!tls.client_ca_pem.empty() && tls.client_auth != ClientAuth::kNoClientCert) {
      tls_options.push_back(
          {MHD_OPTION_HTTPS_MEM_TRUST, 0, const_cast<char*>(tls.client_ca_pem.c_str())});
    }
  }
  tls_options.push_back({MHD_OPTION_END, 0, nullptr});
  daemon_ = MHD_start_daemon(
      flags, 0, nullptr, nullptr, &Callbacks::access, this, MHD_OPTION_EXTERNAL_LOGGER,
      &log_from_microhttpd, nullptr, MHD_OPTION_LISTEN_SOCKET, listen_fd_,
      MHD_OPTION_CONNECTION_LIMIT, static_cast<unsigned>(kMaxConnections),
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, static_cast<unsigned>(kMaxConnectionsPerAddress),
      MHD_OPTION_CONNECTION_TIMEOUT, static_cast<unsigned>(kIdleTimeout.count()),
      MHD_OPTION_NOTIFY_CONNECTION, &Callbacks::notify_connection, this,
      MHD_OPTION_URI_LOG_CALLBACK, &Callbacks::request_started, this, MHD_OPTION_NOTIFY_COMPLETED,
      &Callbacks::request_completed, this, MHD_OPTION_ARRAY, tls_options.data(), MHD_OPTION_END);
  if (daemon_ == nullptr) {
    close(listen_fd_);
    listen_fd_ = -1;
    return refuse(web_config_.tls ? "TLS could not start: check the certificate and key of "
                                    "--web-config-file"
                                  : "the HTTP server could not start");
  }
  thread_ = std::thread([this] { run(); });
  return bound_port;
}

void HttpDaemon::run() {
  while (!stopping_) {
    MHD_run_wait(daemon_, 200);
    close_overdue();
  }
}

void HttpDaemon::close_overdue() {
  const auto now = Clock::now();
  for (auto* connection : connections_) {
    if (connection->fd >= 0 && now >= connection->deadline) {
      // MHD sees the connection end and closes it (and calls notify_connection) itself.
      shutdown(connection->fd, SHUT_RDWR);
      connection->deadline = Clock::time_point::max();
    }
  }
}

void HttpDaemon::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  if (daemon_ != nullptr) {
    MHD_stop_daemon(daemon_);  // closes the listening socket and every connection
    daemon_ = nullptr;
    listen_fd_ = -1;
  }
  for (auto* connection : connections_) delete connection;
  connections_.clear();
}

}  // namespace batch_cleanup::http
