// The status page in a real browser: headless Chromium loads GET / of a running daemon of two
// jobs, one chart per job is drawn from the live cycles (one SVG bar per cycle, heights from rows
// deleted, failed cycles as bars with their error), and a screenshot is saved as a test artifact
// (build/artifacts/status_page.png; docs/status_page.png is a copy).
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
       "--user-data-dir=" + profile.string(), "--virtual-time-budget=3000",
       "--window-size=1200,1500", mode, url},
      {}, false);
  auto result = browser.wait(std::chrono::seconds(90));
  std::filesystem::remove_all(profile);
  return result;
}

struct Bar {
  std::string outcome;
  long long deleted = 0;
};

// The chart bars of `html` (a job's section of the dumped DOM), in order.
std::vector<Bar> bars_of(const std::string& html) {
  static const std::regex kBar(
      R"re(<rect class="bar ([a-z_]+) s-[a-z_]+"[^>]*data-deleted="(\d+)")re");
  std::vector<Bar> out;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), kBar); it != std::sregex_iterator();
       ++it) {
    out.push_back({(*it)[1].str(), std::stoll((*it)[2].str())});
  }
  return out;
}

// The part of the DOM inside <section class="job" data-job="NAME">.
std::string section_of(const std::string& dom, const std::string& job) {
  const auto start = dom.find("<section class=\"job\" data-job=\"" + job + "\"");
  if (start == std::string::npos) return "";
  return dom.substr(start, dom.find("</section>", start) - start);
}

constexpr const char* kDeadUrl = "postgresql://app:TopSecretPw42@127.0.0.1:1/app";

// Two jobs: tenant_a deletes the duplicates that keep arriving, except p3, which a trigger
// refuses; offline cannot reach its database, so every one of its cycles fails.
TEST(StatusPageBrowserTest, ChartsOfTwoJobsWithAFailedCycleRenderInChromium) {
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
  db->exec(std::string("CREATE TRIGGER keep_p3 BEFORE DELETE ON ") + kPending +
           " WHEN old.pending_user_id = 'p3' BEGIN SELECT RAISE(ABORT, 'p3 is kept'); END");
  const auto config_path = std::filesystem::temp_directory_path() /
                           ("bc_status_page_" + std::to_string(getpid()) + ".toml");
  std::ofstream(config_path) << "interval = \"1s\"\nhttp-listen = \"127.0.0.1:0\"\n"
                             << "[[job]]\nname = \"tenant_a\"\ndatabase-url = \"" << db->url()
                             << "\"\nexclude-domain = [\"partner.example\"]\n"
                             << "[[job]]\nname = \"offline\"\ndatabase-url = \"" << kDeadUrl
                             << "\"\nretries = 0\n";
  ChildProcess child({tool_binary(), "--config", config_path.string(), "--daemon"}, {});
  const int port = wait_for_http_port(child);
  std::filesystem::remove(config_path);
  ASSERT_GT(port, 0) << child.current_err();
  const auto job_status = [&](int index) {
    const auto r = http_get(port, "/status");
    return r.status == 200 ? nlohmann::json::parse(r.body)["jobs"][index] : nlohmann::json{};
  };
  const auto cycles = [&] { return job_status(0).value("cycles", 0LL); };
  // New duplicates keep arriving between cycles, so the bars differ.
  long long next = 400;
  for (const long long chunk : {150, 300, 60}) {
    const long long seen = cycles();
    ASSERT_TRUE(wait_until([&] { return cycles() > seen; })) << child.current_err();
    db->insert_pending(next, chunk);
    next += chunk;
  }
  ASSERT_TRUE(wait_until([&] { return db->count(kPending) == 1; })) << child.current_err();
  const long long seen = cycles();
  ASSERT_TRUE(wait_until([&] { return cycles() > seen; }));
  ASSERT_GE(job_status(1).value("failed_cycles", 0LL), 2);

  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  const long long before = cycles();
  const auto dom = run_chromium(chromium, "--dump-dom", url);
  const long long after = cycles();
  ASSERT_EQ(dom.exit_code, 0) << dom.err;
  EXPECT_EQ(dom.out.find("TopSecretPw42"), std::string::npos);
  EXPECT_NE(dom.out.find("version 0.1.0"), std::string::npos) << dom.out.substr(0, 3000);

  // tenant_a: one bar per cycle the daemon had run when the page was loaded, adding up to the
  // rows deleted; p3's refusal makes its cycles partial, and the refused row is listed.
  const auto tenant_a = section_of(dom.out, "tenant_a");
  ASSERT_FALSE(tenant_a.empty()) << dom.out.substr(0, 4000);
  const auto bars = bars_of(tenant_a);
  EXPECT_GE(static_cast<long long>(bars.size()), before) << tenant_a.substr(0, 4000);
  EXPECT_LE(static_cast<long long>(bars.size()), after);
  EXPECT_GE(bars.size(), 4u);
  long long sum = 0;
  for (const auto& bar : bars) sum += bar.deleted;
  EXPECT_EQ(sum, next - 1) << "the bars do not add up to the rows deleted";
  EXPECT_EQ(bars.back().outcome, "partial");
  EXPECT_NE(tenant_a.find("<tr class=\"failure\"><td>p3</td>"), std::string::npos) << tenant_a;
  EXPECT_TRUE(
      std::regex_search(tenant_a, std::regex(R"(<td class="sqlstate">SQLITE_[A-Z_]+</td>)")))
      << tenant_a;
  EXPECT_NE(tenant_a.find(db->url().substr(7)), std::string::npos) << "the target is shown";
  EXPECT_NE(tenant_a.find("policies: email; protections: exempt: 0 email(s), 1 domain(s)"),
            std::string::npos)
      << tenant_a;
  EXPECT_NE(tenant_a.find("class=\"legend\""), std::string::npos);

  // offline: its failed cycles are visible bars, their error in the title; the password is not
  // shown, its place is.
  const auto offline = section_of(dom.out, "offline");
  ASSERT_FALSE(offline.empty());
  const auto failed = bars_of(offline);
  ASSERT_GE(failed.size(), 2u) << offline;
  for (const auto& bar : failed) EXPECT_EQ(bar.outcome, "failed");
  EXPECT_NE(offline.find("failed: database unreachable after 1 attempt(s)"), std::string::npos)
      << offline;
  EXPECT_NE(offline.find("app:***@127.0.0.1:1/app"), std::string::npos) << offline;
  EXPECT_NE(offline.find(">database unreachable<"), std::string::npos) << offline;
  EXPECT_NE(dom.out.find("data-rendered-cycles=\""), std::string::npos);

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
