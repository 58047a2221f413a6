// systemd notification: a daemon started with $NOTIFY_SOCKET sends READY=1, then WATCHDOG=1
// every half $WATCHDOG_USEC, then STOPPING=1 on SIGTERM, to a socket this test owns.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "integration/backend_fixture.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

// A datagram socket bound to a fresh path, like systemd's notify socket.
class NotifySocket {
 public:
  NotifySocket() {
    dir_ = std::filesystem::temp_directory_path() /
           ("bc_notify_" + std::to_string(getpid()) + "_" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "notify.sock").string();
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path_.c_str(), sizeof(address.sun_path) - 1);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      throw std::runtime_error("bind notify socket failed");
    }
  }
  ~NotifySocket() {
    close(fd_);
    std::filesystem::remove_all(dir_);
  }
  const std::string& path() const { return path_; }

  // Receives datagrams until `until` returns true for the collected list or `timeout` passes.
  std::vector<std::string> receive(
      std::chrono::milliseconds timeout,
      const std::function<bool(const std::vector<std::string>&)>& until) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!until(messages_) && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      char buffer[4096];
      const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
      if (n > 0) messages_.emplace_back(buffer, static_cast<std::size_t>(n));
    }
    return messages_;
  }

 private:
  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::string path_;
  int fd_ = -1;
  std::vector<std::string> messages_;
};

long count_containing(const std::vector<std::string>& messages, const std::string& what) {
  return std::count_if(messages.begin(), messages.end(),
                       [&](const std::string& m) { return m.find(what) != std::string::npos; });
}

TEST(SdNotifyTest, DaemonSendsReadyWatchdogAndStopping) {
  auto db = make_test_database(TestBackend::kSqlite);
  db->create_original_schema();
  db->insert_users(0, 10);
  db->insert_pending(0, 5);
  NotifySocket socket;
  ChildProcess child({tool_binary(), "--daemon", "--interval", "1h", "--database-url", db->url()},
                     {{"NOTIFY_SOCKET", socket.path()}, {"WATCHDOG_USEC", "400000"}});
  // READY first, then at least three watchdog pings (every 200 ms).
  auto messages = socket.receive(std::chrono::seconds(20), [](const auto& m) {
    return count_containing(m, "WATCHDOG=1") >= 3;
  });
  ASSERT_FALSE(messages.empty()) << child.current_err();
  EXPECT_NE(messages.front().find("READY=1"), std::string::npos) << messages.front();
  EXPECT_GE(count_containing(messages, "WATCHDOG=1"), 3) << child.current_err();
  // A STATUS= line reports the cycle.
  messages = socket.receive(std::chrono::seconds(10), [](const auto& m) {
    return count_containing(m, "STATUS=last cycle deleted 5 row(s)") >= 1;
  });
  EXPECT_EQ(count_containing(messages, "STATUS=last cycle deleted 5 row(s)"), 1);
  child.signal(SIGTERM);
  messages = socket.receive(std::chrono::seconds(10),
                            [](const auto& m) { return count_containing(m, "STOPPING=1") >= 1; });
  EXPECT_EQ(count_containing(messages, "STOPPING=1"), 1);
  EXPECT_EQ(child.wait(std::chrono::seconds(10)).exit_code, 0);
}

TEST(SdNotifyTest, WithoutNotifySocketNothingIsSentAndTheDaemonRuns) {
  auto db = make_test_database(TestBackend::kSqlite);
  db->create_original_schema();
  db->insert_users(0, 10);
  db->insert_pending(0, 5);
  // A watchdog for another process id is ignored; no socket means no notification at all.
  ChildProcess child({tool_binary(), "--daemon", "--interval", "1h", "--database-url", db->url()},
                     {{"WATCHDOG_USEC", "100000"}, {"WATCHDOG_PID", "1"}});
  for (int i = 0; i < 500 && db->count("core_mstr_one_qlick_pending_users_tbl") != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(db->count("core_mstr_one_qlick_pending_users_tbl"), 0);
  child.signal(SIGTERM);
  EXPECT_EQ(child.wait(std::chrono::seconds(10)).exit_code, 0);
}

}  // namespace
}  // namespace batch_cleanup::testing
