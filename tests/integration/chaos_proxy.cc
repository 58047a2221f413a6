#include "integration/chaos_proxy.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string_view>

namespace batch_cleanup::testing {
namespace {

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t sent = ::send(fd, data, size, MSG_NOSIGNAL);
    if (sent <= 0) return false;
    data += sent;
    size -= static_cast<std::size_t>(sent);
  }
  return true;
}

}  // namespace

ChaosProxy::ChaosProxy(int port, int server_port) : server_port_(server_port) {
  listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
  const int on = 1;
  ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0)
      << std::strerror(errno);
  EXPECT_EQ(::listen(listener_, 16), 0);
  acceptor_ = std::thread([this] { accept_loop(); });
}

ChaosProxy::~ChaosProxy() {
  stopping_ = true;
  ::shutdown(listener_, SHUT_RDWR);
  ::close(listener_);
  acceptor_.join();
  for (auto& relay : relays_) relay.join();
}

void ChaosProxy::accept_loop() {
  while (!stopping_) {
    pollfd ready{listener_, POLLIN, 0};
    if (::poll(&ready, 1, 100) <= 0) continue;
    const int client = ::accept(listener_, nullptr, nullptr);
    if (client < 0) continue;
    const int server = connect_to(server_port_);
    if (server < 0) {
      ::close(client);
      continue;
    }
    relays_.emplace_back([this, client, server] { relay(client, server); });
  }
}

// Forwards both ways. A COMMIT from the client after a DELETE counts; at the chosen one, the
// COMMIT goes to the server and both ends close.
void ChaosProxy::relay(int client, int server) {
  char buffer[65536];
  bool deleted = false;
  pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
  while (!stopping_) {
    if (::poll(fds, 2, 100) <= 0) continue;
    bool closed = false;
    for (int i = 0; i < 2 && !closed; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      const ssize_t got = ::recv(fds[i].fd, buffer, sizeof buffer, 0);
      if (got <= 0) {
        closed = true;
        break;
      }
      const int other = i == 0 ? server : client;
      const std::string_view sent(buffer, static_cast<std::size_t>(got));
      if (i == 0 && sent.find("DELETE") != std::string_view::npos) deleted = true;
      const bool cut = i == 0 && deleted && sent.find("COMMIT") != std::string_view::npos &&
                       ++commits_seen_ == cut_at_commit_;
      if (i == 0 && deleted && sent.find("COMMIT") != std::string_view::npos) deleted = false;
      if ((!cut || forward_cut_commit_) &&
          !send_all(other, buffer, static_cast<std::size_t>(got))) {
        closed = true;
        break;
      }
      if (cut) {
        // Give the server the time to commit (or to see that the client is gone), and the
        // client nothing.
        if (forward_cut_commit_) std::this_thread::sleep_for(std::chrono::milliseconds(200));
        ++cuts_;
        closed = true;
      }
    }
    if (closed) break;
  }
  ::close(client);
  ::close(server);
}

}  // namespace batch_cleanup::testing
