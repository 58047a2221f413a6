// The HTTP server facing a network (--http-listen, --web-config-file), by the real binary, the real
// curl and a real Prometheus: slow clients (slowloris) and too many connections leave the probes
// answering; requests that take too long are cut; TLS and basic authentication from an
// exporter-toolkit web configuration file; a warning when the server reaches beyond loopback
// unprotected.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "integration/http_client.h"
#include "integration/process.h"
#include "integration/prometheus_tools.h"

namespace batch_cleanup::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// /livez answers 200 through it, /readyz 503: no database is needed to test the server.
constexpr const char* kDeadUrl = "postgresql://app:TopSecretPw42@127.0.0.1:1/app";
constexpr const char* kPassword = "s3cret-Scrape-Pw";

struct Curl {
  int status = 0;  // 0: no HTTP answer
  double seconds = 0;
  std::string body;
  std::string headers;
};

// The real curl: `args` (URL and options), at most `max_time` seconds.
Curl curl(const std::vector<std::string>& args, int max_time = 5) {
  TempDir dir;
  std::vector<std::string> command = {"/usr/bin/curl",
                                      "-sS",
                                      "--max-time",
                                      std::to_string(max_time),
                                      "-o",
                                      dir.path() + "/body",
                                      "-D",
                                      dir.path() + "/headers",
                                      "-w",
                                      "%{http_code} %{time_total}"};
  command.insert(command.end(), args.begin(), args.end());
  ChildProcess child(command, {});
  const auto result = child.wait(seconds(max_time + 10));
  Curl out;
  std::istringstream(result.out) >> out.status >> out.seconds;
  const auto slurp = [](const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  out.body = slurp(dir.path() + "/body");
  out.headers = slurp(dir.path() + "/headers");
  return out;
}

std::string url(int port, const std::string& path, const std::string& scheme = "http") {
  return scheme + "://127.0.0.1:" + std::to_string(port) + path;
}

// A TCP connection to 127.0.0.1:port from `source` (another loopback address: the server counts
// connections per client address). -1 when it cannot connect.
int connect_from(const std::string& source, int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &address.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return -1;
  }
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Whether the server closed `fd` (within `wait`).
bool closed_by_server(int fd, milliseconds wait) {
  pollfd entry{fd, POLLIN | POLLRDHUP, 0};
  if (poll(&entry, 1, static_cast<int>(wait.count())) <= 0) return false;
  char byte = 0;
  const auto got = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* program : {"/usr/bin/curl", "/usr/bin/openssl", "/usr/bin/htpasswd"}) {
      if (!program_installed(program)) {
        GTEST_SKIP() << program << " is not installed (scripts/install-deps.sh installs it)";
      }
    }
  }

  // A daemon with --http-listen on `listen` and `extra` arguments; its port in port_.
  void start(const std::vector<std::string>& extra, const std::string& listen = "127.0.0.1:0") {
    std::vector<std::string> args = {tool_binary(), "--daemon", "--interval",    "1s",
                                     "--retries",   "0",        "--http-listen", listen};
    args.insert(args.end(), extra.begin(), extra.end());
    daemon_ = std::make_unique<ChildProcess>(
        args, std::map<std::string, std::string>{{"DATABASE_URL", kDeadUrl}});
    port_ = wait_for_http_port(*daemon_);
    ASSERT_GT(port_, 0) << daemon_->current_err();
  }

  void TearDown() override {
    if (daemon_) {
      daemon_->signal(SIGTERM);
      EXPECT_EQ(daemon_->wait(seconds(15)).exit_code, 0) << daemon_->current_err();
    }
  }

  // A self-signed certificate for 127.0.0.1 and localhost (cert.pem, key.pem in dir_), a bcrypt
  // hash of kPassword for "prometheus" made by htpasswd, and web.yml holding both.
  std::string tls_and_auth_config() {
    ChildProcess openssl({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                          "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                          "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                          "-keyout", dir_.path() + "/key.pem", "-out", dir_.path() + "/cert.pem"},
                         {});
    EXPECT_EQ(openssl.wait(seconds(30)).exit_code, 0) << openssl.current_err();
    ChildProcess htpasswd({"/usr/bin/htpasswd", "-nbB", "-C", "10", "prometheus", kPassword}, {});
    const auto made = htpasswd.wait(seconds(30));
    EXPECT_EQ(made.exit_code, 0) << made.err;
    const auto line = made.out.substr(0, made.out.find('\n'));
    hash_ = line.substr(line.find(':') + 1);
    EXPECT_EQ(hash_.rfind("$2y$10$", 0), 0u) << made.out;
    // Relative file names: resolved against the file's own directory, as exporter-toolkit does.
    return dir_.write("web.yml",
                      "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
                      "basic_auth_users:\n  prometheus: " +
                          hash_ + "\n");
  }

  TempDir dir_;
  std::unique_ptr<ChildProcess> daemon_;
  int port_ = 0;
  std::string hash_;
};

// Sends a request line, then a header line every second on each connection, and never ends the
// headers; records when the server closed each one.
class Slowloris {
 public:
  Slowloris(int port, int connections) : started_(std::chrono::steady_clock::now()) {
    for (int i = 0; i < connections; ++i) {
      const int fd = connect_from("127.0.0.1", port);
      if (fd < 0) continue;
      const std::string head = "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n";
      send(fd, head.data(), head.size(), MSG_NOSIGNAL);
      fds_.push_back(fd);
      closed_after_.push_back(milliseconds::max());
    }
    thread_ = std::thread([this] { run(); });
  }
  ~Slowloris() {
    stop_ = true;
    thread_.join();
    for (const int fd : fds_) close(fd);
  }
  std::size_t connected() const { return fds_.size(); }
  // How many the server has closed so far, and the latest time one of them was closed.
  std::size_t closed() const { return closed_count_; }
  milliseconds last_closed_after() const { return last_closed_after_; }

 private:
  void run() {
    for (int line = 0; !stop_ && closed_count_ < fds_.size(); ++line) {
      for (std::size_t i = 0; i < fds_.size(); ++i) {
        if (closed_after_[i] != milliseconds::max()) continue;
        const std::string header = "X-Slow-" + std::to_string(line) + ": 1\r\n";
        if (closed_by_server(fds_[i], milliseconds(0)) ||
            send(fds_[i], header.data(), header.size(), MSG_NOSIGNAL) < 0) {
          closed_after_[i] =
              std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started_);
          last_closed_after_ = closed_after_[i];
          ++closed_count_;
        }
      }
      for (int i = 0; i < 10 && !stop_; ++i) std::this_thread::sleep_for(milliseconds(100));
    }
  }

  std::chrono::steady_clock::time_point started_;
  std::vector<int> fds_;
  std::vector<milliseconds> closed_after_;
  std::atomic<std::size_t> closed_count_{0};
  std::atomic<milliseconds> last_closed_after_{milliseconds(0)};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST_F(HttpServerTest, SixteenSlowlorisConnectionsLeaveTheProbesAnsweringAndAreCut) {
  start({});
  Slowloris slow(port_, 16);
  ASSERT_EQ(slow.connected(), 16u);
  // With cpp-httplib's 8 threads, /livez timed out here for as long as they stayed open.
  for (int round = 0; round < 6; ++round) {
    std::this_thread::sleep_for(milliseconds(700));
    const auto live = curl({url(port_, "/livez")}, 1);
    EXPECT_EQ(live.status, 200) << "round " << round;
    EXPECT_LT(live.seconds, 1.0) << "round " << round;
    EXPECT_EQ(live.body, "ok\n");
    EXPECT_EQ(curl({url(port_, "/readyz")}, 1).status, 503) << "round " << round;
    const auto metrics = curl({url(port_, "/metrics")}, 1);
    EXPECT_EQ(metrics.status, 200);
    EXPECT_EQ(metric_value(metrics.body, "batch_cleanup_interval_seconds"), 1) << metrics.body;
  }
  EXPECT_EQ(slow.closed(), 0u) << "closed before the request timeout";
  // A request must arrive whole within 10 s of its request line: the server cuts them all.
  EXPECT_TRUE(wait_until([&] { return slow.closed() == 16; }, seconds(15)))
      << slow.closed() << " of 16 closed";
  EXPECT_LT(slow.last_closed_after(), seconds(13));
  EXPECT_EQ(curl({url(port_, "/livez")}, 1).status, 200);
}

TEST_F(HttpServerTest, ConnectionsPastTheLimitOfOneAddressAreClosedTheProbesStillAnswer) {
  start({});
  // 40 idle connections from 127.0.0.2: 32 are kept, the others closed at once.
  std::vector<int> fds;
  for (int i = 0; i < 40; ++i) {
    const int fd = connect_from("127.0.0.2", port_);
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
  }
  std::this_thread::sleep_for(milliseconds(1000));
  int closed = 0;
  for (const int fd : fds) closed += closed_by_server(fd, milliseconds(0)) ? 1 : 0;
  EXPECT_EQ(closed, 8);
  // That address gets nothing more; the probes, from another one, still answer at once.
  const auto refused = curl({"--interface", "127.0.0.2", url(port_, "/livez")}, 2);
  EXPECT_EQ(refused.status, 0) << refused.body;
  const auto live = curl({url(port_, "/livez")}, 1);
  EXPECT_EQ(live.status, 200);
  EXPECT_LT(live.seconds, 1.0);
  for (const int fd : fds) close(fd);
  // Freed: the address is served again.
  EXPECT_TRUE(wait_until(
      [&] {
        return curl({"--interface", "127.0.0.2", url(port_, "/livez")}, 2).status == 200;
      },
      seconds(10)));
}

TEST_F(HttpServerTest, TlsAndBasicAuthFromAWebConfigFile) {
  const auto config = tls_and_auth_config();
  start({"--web-config-file", config});
  EXPECT_NE(daemon_->current_err().find("listening on https://127.0.0.1:"), std::string::npos)
      << daemon_->current_err();
  const auto ca = dir_.path() + "/cert.pem";
  const std::string user = std::string("prometheus:") + kPassword;

  const auto metrics = curl({"--cacert", ca, "-u", user, url(port_, "/metrics", "https")});
  EXPECT_EQ(metrics.status, 200) << metrics.body;
  EXPECT_EQ(metric_value(metrics.body, "batch_cleanup_interval_seconds"), 1) << metrics.body;
  const auto status = curl({"--cacert", ca, "-u", user, url(port_, "/status", "https")});
  EXPECT_EQ(status.status, 200);
  EXPECT_EQ(status.body.find("TopSecretPw42"), std::string::npos);

  // Without credentials, or with wrong ones: 401 and a Basic challenge.
  for (const auto& path : {"/metrics", "/status", "/history.json", "/"}) {
    const auto anonymous = curl({"--cacert", ca, url(port_, path, "https")});
    EXPECT_EQ(anonymous.status, 401) << path;
    EXPECT_NE(anonymous.headers.find("WWW-Authenticate: Basic realm=\"batch_cleanup\""),
              std::string::npos)
        << anonymous.headers;
    EXPECT_EQ(curl({"--cacert", ca, "-u", "prometheus:wrong", url(port_, path, "https")}).status,
              401)
        << path;
    EXPECT_EQ(
        curl({"--cacert", ca, "-u", "nobody:" + std::string(kPassword), url(port_, path, "https")})
            .status,
        401)
        << path;
  }
  // The probes answer without credentials, with their status code and no reasons.
  const auto live = curl({"--cacert", ca, url(port_, "/livez", "https")});
  EXPECT_EQ(live.status, 200);
  EXPECT_EQ(live.body, "ok\n");
  const auto ready = curl({"--cacert", ca, url(port_, "/readyz", "https")});
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(ready.body, "unavailable\n");
  EXPECT_EQ(curl({"--cacert", ca, url(port_, "/readyz?job=default", "https")}).status, 503);
  EXPECT_EQ(curl({"--cacert", ca, url(port_, "/readyz?job=nope", "https")}).status, 404);
  // With credentials, the reasons.
  const auto reasons = curl({"--cacert", ca, "-u", user, url(port_, "/readyz", "https")});
  EXPECT_EQ(reasons.status, 503);
  EXPECT_EQ(reasons.body.rfind("database unreachable: ", 0), 0u) << reasons.body;
  EXPECT_EQ(curl({"--cacert", ca, "-u", "prometheus:wrong", url(port_, "/livez", "https")}).status,
            401);

  // Plain HTTP to the TLS port, and a client that does not trust the certificate, get nothing.
  EXPECT_NE(curl({"-u", user, url(port_, "/metrics")}).status, 200);
  EXPECT_EQ(curl({"-u", user, url(port_, "/metrics", "https")}).status, 0);
  // Loopback and protected: no warning.
  EXPECT_EQ(daemon_->current_err().find("reaches beyond this machine"), std::string::npos);
}

TEST_F(HttpServerTest, PrometheusScrapesOverTlsWithBasicAuth) {
  if (!program_installed("/usr/bin/prometheus")) GTEST_SKIP() << "prometheus is not installed";
  const auto config = tls_and_auth_config();
  start({"--web-config-file", config});
  const PortLease lease;
  ASSERT_GT(lease.port(), 0) << "no free port in 54360..54369";
  const auto target = "['127.0.0.1:" + std::to_string(port_) + "']";
  const auto scrape = [&](const std::string& job, const std::string& password) {
    return "  - job_name: " + job +
           "\n    scheme: https\n    tls_config:\n      ca_file: " + dir_.path() +
           "/cert.pem\n    basic_auth:\n      username: prometheus\n      password: " + password +
           "\n    static_configs:\n      - targets: " + target + "\n";
  };
  const auto prometheus_config =
      dir_.write("prometheus.yml", "global:\n  scrape_interval: 1s\nscrape_configs:\n" +
                                       scrape("batch_cleanup", kPassword) +
                                       scrape("wrong_password", "not-the-password"));
  ToolServer prometheus(
      {"/usr/bin/prometheus", "--config.file=" + prometheus_config,
       "--storage.tsdb.path=" + dir_.path() + "/data",
       "--web.listen-address=127.0.0.1:" + std::to_string(lease.port()), "--log.level=warn"},
      lease.port(), "/-/ready");
  ASSERT_TRUE(prometheus.ready()) << prometheus.log();
  const auto value = [&](const std::string& expr) -> std::optional<double> {
    const auto result = prometheus_query(lease.port(), expr);
    if (!result.is_array() || result.empty()) return std::nullopt;
    return std::stod(result[0]["value"][1].get<std::string>());
  };
  ASSERT_TRUE(wait_until(
      [&] {
        return value("up{job=\"batch_cleanup\"}") == 1.0 &&
               value("up{job=\"wrong_password\"}") == 0.0;
      },
      seconds(60)))
      << prometheus.log() << daemon_->current_err();
  // The scraped series are the daemon's.
  EXPECT_EQ(value("batch_cleanup_interval_seconds{job=\"batch_cleanup\"}"), 1.0);
  EXPECT_EQ(value("batch_cleanup_database_up{job=\"batch_cleanup\"}"), 0.0);
  EXPECT_EQ(value("count(batch_cleanup_interval_seconds{job=\"wrong_password\"})"), std::nullopt);
}

TEST_F(HttpServerTest, ClientCertificatesAreVerifiedAgainstTheClientCa) {
  tls_and_auth_config();  // the server's certificate and key
  const auto openssl = [&](const std::vector<std::string>& args) {
    std::vector<std::string> command = {"/usr/bin/openssl"};
    command.insert(command.end(), args.begin(), args.end());
    ChildProcess child(command, {});
    EXPECT_EQ(child.wait(seconds(30)).exit_code, 0) << child.current_err();
  };
  const auto in_dir = [&](const std::string& name) { return dir_.path() + "/" + name; };
  const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                       "-nodes"};
  const auto self_signed = [&](const std::string& name) {
    std::vector<std::string> args = {"req", "-x509", "-days", "2", "-subj", "/CN=" + name};
    args.insert(args.end(), ec.begin(), ec.end());
    args.insert(args.end(), {"-keyout", in_dir(name + "-key.pem"), "-out", in_dir(name + ".pem")});
    openssl(args);
  };
  self_signed("clients-ca");
  self_signed("rogue");
  std::vector<std::string> request = {"req",
                                      "-subj",
                                      "/CN=scraper",
                                      "-keyout",
                                      in_dir("scraper-key.pem"),
                                      "-out",
                                      in_dir("scraper.csr")};
  request.insert(request.end(), ec.begin(), ec.end());
  openssl(request);
  openssl({"x509", "-req", "-in", in_dir("scraper.csr"), "-CA", in_dir("clients-ca.pem"), "-CAkey",
           in_dir("clients-ca-key.pem"), "-CAcreateserial", "-days", "2", "-out",
           in_dir("scraper.pem")});
  start({"--web-config-file",
         dir_.write("mtls.yml",
                    "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
                    "  client_auth_type: RequireAndVerifyClientCert\n"
                    "  client_ca_file: clients-ca.pem\n")});
  const std::vector<std::string> trust = {"--cacert", in_dir("cert.pem")};
  const auto get = [&](const std::string& client, const std::string& path) {
    auto args = trust;
    if (!client.empty()) {
      args.insert(args.end(),
                  {"--cert", in_dir(client + ".pem"), "--key", in_dir(client + "-key.pem")});
    }
    args.push_back(url(port_, path, "https"));
    return curl(args);
  };
  const auto metrics = get("scraper", "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metric_value(metrics.body, "batch_cleanup_interval_seconds"), 1) << metrics.body;
  EXPECT_EQ(get("", "/metrics").status, 403);
  EXPECT_EQ(get("rogue", "/metrics").status, 403);
  EXPECT_EQ(get("rogue", "/status").status, 403);
  // The probes answer without a certificate: the verdict alone.
  const auto live = get("", "/livez");
  EXPECT_EQ(live.status, 200);
  EXPECT_EQ(live.body, "ok\n");
  const auto ready = get("rogue", "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(ready.body, "unavailable\n");
  EXPECT_EQ(get("scraper", "/readyz").body.rfind("database unreachable: ", 0), 0u);
}

TEST_F(HttpServerTest, ListeningBeyondLoopbackUnprotectedIsWarnedAbout) {
  start({}, "0.0.0.0:0");
  EXPECT_NE(
      daemon_->current_err().find("reaches beyond this machine without TLS or authentication"),
      std::string::npos)
      << daemon_->current_err();
  EXPECT_EQ(curl({url(port_, "/livez")}).status, 200);
}

TEST_F(HttpServerTest, LoopbackUnprotectedIsNotWarnedAbout) {
  start({});
  EXPECT_EQ(daemon_->current_err().find("reaches beyond this machine"), std::string::npos)
      << daemon_->current_err();
}

TEST_F(HttpServerTest, ABadWebConfigFileIsRefusedWithoutEchoingSecrets) {
  const auto run = [&](const std::string& text) {
    const auto file = dir_.write("bad.yml", text);
    return run_tool({"--daemon", "--http-listen", "127.0.0.1:0", "--web-config-file", file},
                    {{"DATABASE_URL", kDeadUrl}}, seconds(30));
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"basic_auth_users:\n  alice: PlainTextSecret99\n", "not a bcrypt hash"},
      {"tls_server_config:\n  cert_file: /nonexistent/cert.pem\n  key_file: k.pem\n",
       "cannot read"},
      {"tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [x]\n",
       "'cipher_suites' is not supported"},
      {"rate_limit:\n  interval: 1s\n", "'rate_limit' is not supported"},
      {"basic_auth_users: [\"PlainTextSecret99\n", "not valid YAML"},
      {"tls_server_config:\n  cert: a\n  key: PlainTextSecret99\n  client_auth_type: Bogus\n",
       "client_auth_type"},
  };
  for (const auto& [text, expected] : cases) {
    const auto result = run(text);
    EXPECT_EQ(result.exit_code, 2) << text << result.err;
    EXPECT_NE(result.err.find(expected), std::string::npos) << text << result.err;
    EXPECT_EQ(result.err.find("PlainTextSecret99"), std::string::npos) << result.err;
  }
  // A key that GnuTLS cannot load: TLS cannot start.
  dir_.write("junk.pem", "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n");
  const auto tls = run("tls_server_config:\n  cert_file: junk.pem\n  key_file: junk.pem\n");
  EXPECT_EQ(tls.exit_code, 2) << tls.err;
  EXPECT_NE(tls.err.find("TLS could not start"), std::string::npos) << tls.err;
  // Without --http-listen it has nothing to configure.
  const auto alone = run_tool({"--daemon", "--web-config-file", dir_.write("ok.yml", "")},
                              {{"DATABASE_URL", kDeadUrl}}, seconds(30));
  EXPECT_EQ(alone.exit_code, 2);
  EXPECT_NE(alone.err.find("--web-config-file needs --http-listen"), std::string::npos)
      << alone.err;
}

}  // namespace
}  // namespace batch_cleanup::testing
