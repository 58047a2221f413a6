// The status page in a real browser: headless Chromium loads GET / of a running daemon, the
// chart is drawn from the live cycles (one SVG bar per cycle, heights from rows deleted), and
// a screenshot is saved as a test artifact (build/artifacts/status_page.png).
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "integration/backend_fixture.h"
#include "integration/http_client.h"
#include "integration/process.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";

std::string find_chromium() {
  for (const char* candidate : {"/usr/bin/chromium", "/usr/bin/chromium-browser"}) {
    if (std::filesystem::exists(candidate)) return candidate;
  }
  return "";
}

// Runs headless Chromium on `url` with a fresh profile; `mode` is "--dump-dom" or
// "--screenshot=PATH".
ProcessResult run_chromium(const std::string& chromium, const std::string& mode,
                           const std::string& url) {
  const auto profile =
      std::filesystem::temp_directory_path() / ("bc_chromium_" + std::to_string(getpid()));
  std::filesystem::remove_all(profile);
  std::filesystem::create_directories(profile);
  ChildProcess browser(
      {chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
       "--disable-background-networking", "--disable-component-update", "--disable-sync",
       "--user-data-dir=" + profile.string(), "--window-size=1200,900",
       "--virtual-time-budget=3000", mode, url},
      {}, false);
  auto result = browser.wait(std::chrono::seconds(90));
  std::filesystem::remove_all(profile);
  return result;
}

std::vector<long long> bar_values(const std::string& dom) {
  static const std::regex kBar(R"re(<rect class="bar [a-z_]*"[^>]*data-deleted="(\d+)")re");
  std::vector<long long> values;
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), kBar); it != std::sregex_iterator();
       ++it) {
    values.push_back(std::stoll((*it)[1].str()));
  }
  return values;
}

TEST(StatusPageBrowserTest, ChartRendersLiveCyclesInChromium) {
  const std::string chromium = find_chromium();
  if (chromium.empty()) {
    const char* required = std::getenv("BATCH_CLEANUP_REQUIRE_CHROMIUM");
    if (required != nullptr && std::string(required) == "1") {
      FAIL() << "chromium is not installed (scripts/install-deps.sh installs it)";
    }
    GTEST_SKIP() << "chromium is not installed";
  }
  auto db = make_test_database(TestBackend::kSqlite);
  db->create_original_schema();
  db->insert_users(0, 1000);
  db->insert_pending(0, 400);
  ChildProcess child({tool_binary(), "--daemon", "--interval", "1s", "--http-listen", "127.0.0.1:0",
                      "--database-url", db->url()},
                     {});
  const int port = wait_for_http_port(child);
  ASSERT_GT(port, 0) << child.current_err();
  const auto cycles = [&] {
    const auto r = http_get(port, "/status");
    return r.status == 200 ? nlohmann::json::parse(r.body)["cycles"].get<long long>() : 0LL;
  };
  // New duplicates keep arriving between cycles, so the bars differ.
  long long next = 400;
  for (const long long chunk : {150, 300, 60}) {
    const long long seen = cycles();
    ASSERT_TRUE(wait_until([&] { return cycles() > seen; })) << child.current_err();
    db->insert_pending(next, chunk);
    next += chunk;
  }
  ASSERT_TRUE(wait_until([&] { return db->count(kPending) == 0; })) << child.current_err();
  const long long seen = cycles();
  ASSERT_TRUE(wait_until([&] { return cycles() > seen; }));

  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  const long long before = cycles();
  const auto dom = run_chromium(chromium, "--dump-dom", url);
  const long long after = cycles();
  ASSERT_EQ(dom.exit_code, 0) << dom.err;
  const auto values = bar_values(dom.out);
  // One bar per cycle the daemon had run when the page was loaded.
  EXPECT_GE(static_cast<long long>(values.size()), before) << dom.out.substr(0, 4000);
  EXPECT_LE(static_cast<long long>(values.size()), after);
  EXPECT_GE(values.size(), 4u);
  long long sum = 0;
  for (const auto v : values) sum += v;
  EXPECT_EQ(sum, next) << "the bars do not add up to the rows deleted";
  EXPECT_NE(dom.out.find("data-rendered-cycles=\"" + std::to_string(values.size()) + "\""),
            std::string::npos);
  EXPECT_NE(dom.out.find("<tr class=\"cycle\">"), std::string::npos);

  const std::filesystem::path artifacts = BATCH_CLEANUP_ARTIFACT_DIR;
  std::filesystem::create_directories(artifacts);
  const auto screenshot = artifacts / "status_page.png";
  std::filesystem::remove(screenshot);
  const auto shot = run_chromium(chromium, "--screenshot=" + screenshot.string(), url);
  ASSERT_EQ(shot.exit_code, 0) << shot.err;
  ASSERT_TRUE(std::filesystem::exists(screenshot)) << shot.err;
  std::ifstream png(screenshot, std::ios::binary);
  char magic[8] = {};
  png.read(magic, 8);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
  EXPECT_GT(std::filesystem::file_size(screenshot), 10'000u);

  child.signal(SIGTERM);
  EXPECT_EQ(child.wait(std::chrono::seconds(15)).exit_code, 0);
}

}  // namespace
}  // namespace batch_cleanup::testing
