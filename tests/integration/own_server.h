// PostgreSQL servers of a test's own (scripts/pg_test_server.sh: loopback, a temporary
// directory, a port just above the shared test server's), and small helpers for tests that
// restart, stop or pool them.
#pragma once

#include <chrono>
#include <string>
#include <thread>

namespace batch_cleanup::testing {

// Runs one statement on a fresh connection (servers restart under these tests); returns the
// first column of the first row, or "" (also when the server cannot be reached). A statement
// that fails is a test failure.
std::string pg(const std::string& url, const std::string& sql);

template <typename Condition>
bool eventually(Condition condition, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return condition();
}

// The port of the shared test server (BATCH_CLEANUP_TEST_PG_URL); tests' own servers use the
// ports just above it, each test its own.
int shared_server_port();

// A throwaway server of the test's own.
class OwnServer {
 public:
  explicit OwnServer(int port);
  ~OwnServer();
  OwnServer(const OwnServer&) = delete;
  OwnServer& operator=(const OwnServer&) = delete;
  void start();
  void standby_of(const OwnServer& primary, const std::string& settings = "");
  void restart(const std::string& mode);
  void halt(const std::string& mode);
  void promote();
  void require_tls_and_password();
  // Through the Unix socket (trusted even when TCP needs TLS and a password).
  std::string socket_url(const std::string& dbname) const;
  std::string url(const std::string& dbname = "postgres") const;
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  // The server's log so far.
  std::string log() const;

 private:
  static int script(const std::string& arguments);
  int port_;
  std::string dir_;
};

// Creates database "app" with the original schema, `matching` pending rows that all match
// (p0.., a user each), four times as many users, and a statement trigger that makes every
// DELETE take 150 ms.
void create_app_database(const OwnServer& server, long long matching);

long long pending_count(const std::string& url);

}  // namespace batch_cleanup::testing
