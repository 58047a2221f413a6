#include "integration/pgbouncer.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>

#include "integration/own_server.h"

namespace batch_cleanup::testing {

bool PgBouncer::available() { return std::filesystem::exists("/usr/sbin/pgbouncer"); }

PgBouncer::PgBouncer(int port, int server_port, PgBouncerOptions options) : port_(port) {
  dir_ = (std::filesystem::temp_directory_path() /
          fmt::format("bc_pgbouncer_{}_{:x}", port, std::random_device{}()))
             .string();
  std::filesystem::create_directories(dir_);
  {
    std::ofstream users(dir_ + "/userlist.txt");
    for (const auto& user : options.users) users << '"' << user << "\" \"\"\n";
  }
  start(server_port, options);
}

void PgBouncer::start(int server_port, const PgBouncerOptions& options) {
  // The test ports lie inside Linux's ephemeral range, so a client socket of this machine may
  // hold one for a moment: a port PgBouncer cannot bind is skipped for the next.
  for (int attempt = 0; attempt < 4; ++attempt, port_ += 1000) {
    std::ofstream ini(dir_ + "/pgbouncer.ini");
    ini << "[databases]\n* = host=127.0.0.1 port=" << server_port << "\n\n[pgbouncer]\n"
        << "listen_addr = 127.0.0.1\nlisten_port = " << port_ << "\nunix_socket_dir = " << dir_
        << "\nauth_type = trust\nauth_file = " << dir_ << "/userlist.txt\n"
        << "pool_mode = " << options.pool_mode
        << "\ndefault_pool_size = " << options.default_pool_size
        << "\nmin_pool_size = " << options.min_pool_size
        << "\nserver_round_robin = " << (options.server_round_robin ? 1 : 0)
        << "\nmax_client_conn = 200\nlogfile = " << dir_ << "/pgbouncer.log\npidfile = " << dir_
        << "/pgbouncer.pid\nignore_startup_parameters = extra_float_digits\n";
    ini.close();
    std::filesystem::remove(dir_ + "/pgbouncer.log");
    const std::string owner = ::getuid() == 0 ? "chown -R postgres " + dir_ + " && " : "";
    const std::string as_postgres = ::getuid() == 0 ? "runuser -u postgres -- " : "";
    const std::string command =
        owner + as_postgres + "/usr/sbin/pgbouncer -d -q " + dir_ + "/pgbouncer.ini";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    // Ready when it answers.
    const bool answers = eventually([&] { return !pg(url("postgres"), "SELECT 1").empty(); },
                                    std::chrono::seconds(10));
    if (answers) return;
    std::ifstream log_file(dir_ + "/pgbouncer.log");
    const std::string log((std::istreambuf_iterator<char>(log_file)),
                          std::istreambuf_iterator<char>());
    stop();
    ASSERT_NE(log.find("cannot listen on"), std::string::npos)
        << "pgbouncer on port " << port_ << " does not answer:\n"
        << log;
  }
  FAIL() << "pgbouncer found no free port";
}

void PgBouncer::stop() {
  std::ifstream pid_file(dir_ + "/pgbouncer.pid");
  pid_t pid = 0;
  if (pid_file >> pid && pid > 0) {
    ::kill(pid, SIGTERM);
    for (int i = 0; i < 50 && ::kill(pid, 0) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

PgBouncer::~PgBouncer() {
  stop();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string PgBouncer::url(const std::string& dbname, const std::string& user) const {
  return fmt::format("host=127.0.0.1 port={} user={} dbname={}", port_, user, dbname);
}

}  // namespace batch_cleanup::testing
