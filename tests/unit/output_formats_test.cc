// The JSON and text log formats, the progress line and bar, the statistics table, the status
// page, the textfile and Pushgateway helpers and the systemd notification protocol.
#include <gtest/gtest.h>
#include <poll.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "batch_cleanup/errors.h"
#include "cli/progress_bar.h"
#include "cli/statistics_table.h"
#include "http/pushgateway.h"
#include "http/status_page.h"
#include "http/status_server.h"
#include "log/json_formatter.h"
#include "log/log_context.h"
#include "log/logger.h"
#include "observability/health.h"
#include "observability/metric_family.h"
#include "observability/process_metrics.h"
#include "observability/prometheus.h"
#include "observability/textfile.h"
#include "systemd/notify.h"

namespace batch_cleanup {
namespace {

TEST(JsonLogTest, OneObjectPerLineWithCycleIdAndCounts) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::logger json_log("json_test", sink);
  json_log.set_formatter(std::make_unique<logging::JsonFormatter>());
  json_log.info("before");
  {
    logging::CycleLogScope cycle("abc123");
    json_log.warn("quote \" and newline \n inside");
    logging::CountsLogScope counts({{"deleted", 12}, {"failed", 1}});
    json_log.info("cycle done");
  }
  json_log.error("after");
  std::istringstream lines(out.str());
  std::vector<nlohmann::json> parsed;
  std::string line;
  while (std::getline(lines, line)) parsed.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(parsed.size(), 4u) << out.str();
  EXPECT_EQ(parsed[0]["level"], "info");
  EXPECT_EQ(parsed[0]["msg"], "before");
  EXPECT_FALSE(parsed[0].contains("cycle_id"));
  EXPECT_EQ(parsed[0]["ts"].get<std::string>().size(), 24u);  // 2026-11-29T16:00:00.000Z
  EXPECT_EQ(parsed[1]["level"], "warning");
  EXPECT_EQ(parsed[1]["cycle_id"], "abc123");
  EXPECT_EQ(parsed[1]["msg"], "quote \" and newline \n inside");
  EXPECT_EQ(parsed[2]["deleted"], 12);
  EXPECT_EQ(parsed[2]["failed"], 1);
  EXPECT_EQ(parsed[3]["level"], "error");
  EXPECT_FALSE(parsed[3].contains("cycle_id"));
  EXPECT_FALSE(parsed[3].contains("deleted"));
}

TEST(TextfileTest, ReplacesTheFileAtomicallyPrivateUnlessMadeReadable) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("bc_textfile_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto path = (dir / "batch_cleanup.prom").string();
  const auto old_umask = umask(077);
  observability::write_file_atomically(path, "a 1\n");
  observability::write_file_atomically(path, "a 2\n");
  umask(old_umask);
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "a 2\n");
  struct stat info {};
  ASSERT_EQ(stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);  // created for its owner only
  // An operator who made it readable by a collector running as another user keeps that mode.
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  observability::write_file_atomically(path, "a 3\n");
  ASSERT_EQ(stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0644u);
  // Only the file itself is left: no temporary file.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir),
                          std::filesystem::directory_iterator()),
            1);
  EXPECT_NO_THROW(observability::check_writable_location(path, "--metrics-file"));
  EXPECT_THROW(observability::check_writable_location((dir / "missing" / "x.prom").string(),
                                                      "--metrics-file"),
               ConfigError);
  EXPECT_THROW(observability::check_writable_location(dir.string(), "--metrics-file"), ConfigError);
  EXPECT_THROW(observability::write_file_atomically((dir / "missing" / "x.prom").string(), ""),
               std::runtime_error);
  std::filesystem::remove_all(dir);
}

TEST(PushgatewayTest, GroupingPathAndUrls) {
  EXPECT_EQ(http::grouping_path("http://pg:9091",
                                {{"job", "batch_cleanup"}, {"instance", "host-1.example"}}),
            "/metrics/job/batch_cleanup/instance/host-1.example");
  // A path prefix is kept; values a path cannot hold are base64url-encoded.
  EXPECT_EQ(http::grouping_path("http://pg:9091/gw/", {{"job", "a/b"}, {"instance", ""}}),
            "/gw/metrics/job@base64/YS9i/instance@base64/=");
  EXPECT_NO_THROW(http::check_push_url("http://127.0.0.1:9091"));
  for (const char* bad : {"127.0.0.1:9091", "ftp://x", "http://", "http://:9091"}) {
    EXPECT_THROW(http::check_push_url(bad), ConfigError) << bad;
  }
}

TEST(ProgressBarTest, ALogLineNeverStartsOnTheBarsLine) {
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  cli::ProgressBar bar(out);
  // The logger of the command line: the line-ending sink first, then the terminal's sink.
  std::ostringstream unused;
  auto terminal = std::make_shared<spdlog::sinks::ostream_sink_mt>(unused);
  struct FileSink final : spdlog::sinks::base_sink<std::mutex> {
    explicit FileSink(std::FILE* f) : file(f) {}
    void sink_it_(const spdlog::details::log_msg& msg) override {
      std::fprintf(file, "%.*s\n", static_cast<int>(msg.payload.size()), msg.payload.data());
    }
    void flush_() override {}
    std::FILE* file;
  };
  spdlog::logger log("bar_test",
                     {cli::make_line_ending_sink({&bar}), std::make_shared<FileSink>(out)});
  CycleProgress p;
  p.cycle_id = "c1";
  p.fraction = 1.0;
  bar.update(p);
  log.info("cycle c1 finished");
  bar.finish();  // the report: nothing more to end
  std::rewind(out);
  std::string text;
  for (int c; (c = std::fgetc(out)) != EOF;) text += static_cast<char>(c);
  std::fclose(out);
  EXPECT_NE(text.find("ETA 0:00\x1b[K\ncycle c1 finished\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("\n\n"), std::string::npos) << text;
}

TEST(JsonLogTest, NamedJobsAreTaggedTheDefaultJobIsNot) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::logger json_log("json_job_test", sink);
  json_log.set_formatter(std::make_unique<logging::JsonFormatter>());
  {
    logging::JobLogScope job("tenant_a");
    json_log.info("in a job");
  }
  {
    logging::JobLogScope job("default");
    json_log.info("in the default job");
  }
  json_log.info("outside");
  std::istringstream lines(out.str());
  std::vector<nlohmann::json> parsed;
  std::string line;
  while (std::getline(lines, line)) parsed.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(parsed.size(), 3u) << out.str();
  EXPECT_EQ(parsed[0]["job"], "tenant_a");
  EXPECT_FALSE(parsed[1].contains("job"));
  EXPECT_FALSE(parsed[2].contains("job"));
}

TEST(TextLogTest, NamedJobsArePrefixed) {
  const auto path =
      std::filesystem::temp_directory_path() / ("bc_text_log_" + std::to_string(getpid()) + ".log");
  logging::configure_logging("info", path.string(), "text");
  {
    logging::JobLogScope job("tenant_b");
    logging::logger()->info("cycle started");
  }
  logging::logger()->info("no job here");
  logging::configure_logging("info", "", "text");
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(path);
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(info +\[job tenant_b\] cycle started\n)")))
      << text;
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(info +no job here\n)"))) << text;
}

TEST(ProgressLineTest, ShowsShareRowsRateAndEta) {
  CycleProgress p;
  p.fraction = 0.25;
  p.deleted = 12345;
  p.candidates = 12400;
  p.skipped = 55;
  p.elapsed_ms = 10'000;
  const std::string line = cli::render_progress_line(p, 8);
  EXPECT_EQ(line,
            "[##......]  25.0%  deleted 12,345 of 12,400  failed 0  skipped 55  1,235 rows/s  ETA "
            "0:30");
  p.fraction = 0;
  EXPECT_NE(cli::render_progress_line(p, 8).find("ETA --"), std::string::npos);
  p.fraction = 1;
  EXPECT_NE(cli::render_progress_line(p, 8).find("[########] 100.0%"), std::string::npos);
}

TEST(StatisticsTest, OneLinePerPhaseWithShares) {
  CycleReport report;
  report.cycle_id = "c1";
  report.batches = 4;
  report.duration_ms = 1000;
  report.phases = {100, 200, 300, 0, 250};
  const std::string table = cli::render_statistics(report);
  EXPECT_NE(table.find("find candidates (lock)                  100.0   10.0%        25.00"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("commit                                  300.0   30.0%"), std::string::npos);
  EXPECT_NE(table.find("archive (table, file)                     0.0"), std::string::npos);
  EXPECT_EQ(table.find("row(s) copied to the archive"), std::string::npos) << table;
  report.archived = 42;
  report.phases.archive_ms = 20;
  EXPECT_NE(cli::render_statistics(report).find("archive (table, file)                    20.0"),
            std::string::npos);
  EXPECT_NE(cli::render_statistics(report).find("archive: 42 row(s) copied to the archive\n"),
            std::string::npos);
  EXPECT_NE(table.find("waiting on locks or throttle            250.0   25.0%"), std::string::npos);
  EXPECT_NE(table.find("other (connect, preflight, ...)         150.0   15.0%"), std::string::npos);
}

TEST(StatusPageTest, EmbedsTheStatusSafely) {
  const std::string page =
      http::render_status_page(R"({"recent_cycles":[{"error":"</script><b>x"}]})", 1234);
  EXPECT_EQ(page.find("</script><b>"), std::string::npos);
  EXPECT_NE(page.find(R"(<\/script><b>x)"), std::string::npos);
  EXPECT_NE(page.find("}, 1234);"), std::string::npos);
  EXPECT_EQ(page.find("@STATUS_JSON@"), std::string::npos);
  EXPECT_EQ(page.find("src=\"http"), std::string::npos);  // nothing loaded from elsewhere
}

TEST(ListenAddressTest, Parses) {
  auto address = http::parse_listen_address("127.0.0.1:9187");
  EXPECT_EQ(address.host, "127.0.0.1");
  EXPECT_EQ(address.port, 9187);
  address = http::parse_listen_address("[::1]:0");
  EXPECT_EQ(address.host, "::1");
  EXPECT_EQ(address.port, 0);
  for (const char* bad : {"9187", ":9187", "host:", "host:70000", "host:-1", "host:9x"}) {
    EXPECT_THROW(http::parse_listen_address(bad), ConfigError) << bad;
  }
}

TEST(SdNotifyTest, SendsDatagramsToNotifySocketAndReadsTheWatchdog) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("bc_notify_unit_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "s").string();
  const int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);

  unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(systemd::notify("READY=1"));
  setenv("NOTIFY_SOCKET", path.c_str(), 1);
  EXPECT_TRUE(systemd::notify("READY=1\nSTATUS=hi"));
  char buffer[256] = {};
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 2000), 1);
  const auto n = recv(fd, buffer, sizeof buffer, 0);
  EXPECT_EQ(std::string(buffer, static_cast<std::size_t>(n)), "READY=1\nSTATUS=hi");
  unsetenv("NOTIFY_SOCKET");

  setenv("WATCHDOG_USEC", "3000000", 1);
  EXPECT_EQ(systemd::watchdog_ping_interval(), std::chrono::microseconds(1'500'000));
  setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
  EXPECT_EQ(systemd::watchdog_ping_interval(), std::chrono::microseconds(1'500'000));
  setenv("WATCHDOG_PID", "1", 1);
  EXPECT_EQ(systemd::watchdog_ping_interval(), std::chrono::microseconds(0));
  unsetenv("WATCHDOG_PID");
  unsetenv("WATCHDOG_USEC");
  EXPECT_EQ(systemd::watchdog_ping_interval(), std::chrono::microseconds(0));
  close(fd);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace batch_cleanup
