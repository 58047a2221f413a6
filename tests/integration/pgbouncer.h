// A real PgBouncer (Debian's pgbouncer) of the test's own, in front of a PostgreSQL server: its
// configuration, auth file, log and pid file in a temporary directory, listening on a loopback
// port, run as the postgres user (PgBouncer refuses root).
#pragma once

#include <string>
#include <vector>

namespace batch_cleanup::testing {

struct PgBouncerOptions {
  std::string pool_mode = "transaction";  // or "session"
  int default_pool_size = 1;
  int min_pool_size = 0;
  bool server_round_robin = false;  // successive transactions on different server connections
  std::vector<std::string> users = {"postgres"};  // roles that may log in (trust)
};

class PgBouncer {
 public:
  // Starts it, or fails the test. `server_port`: the PostgreSQL server on 127.0.0.1; `port`
  // (or port + 1000·k when a client socket holds it) its own.
  PgBouncer(int port, int server_port, PgBouncerOptions options);
  ~PgBouncer();
  PgBouncer(const PgBouncer&) = delete;
  PgBouncer& operator=(const PgBouncer&) = delete;

  // A libpq key=value URL through the pooler.
  std::string url(const std::string& dbname, const std::string& user = "postgres") const;
  // True when `pgbouncer` is installed (scripts/install-deps.sh installs it).
  static bool available();

 private:
  void start(int server_port, const PgBouncerOptions& options);
  void stop();
  int port_;
  std::string dir_;
};

}  // namespace batch_cleanup::testing
