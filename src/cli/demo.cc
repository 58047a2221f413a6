#include "cli/demo.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "batch_cleanup/batch_cleanup.h"
#include "cli/exit_codes.h"
#include "cli/report_text.h"
#include "store/sqlite/sqlite_demo_data.h"

namespace batch_cleanup::cli {

CLI::App* declare_demo_command(CLI::App& app, DemoOptions& options) {
  auto* demo = app.add_subcommand(
      "demo",
      "Create a sample SQLite database, show a dry run, clean it up, and explain the result");
  demo->add_option("--rows", options.users, "Users in the sample (pending sign-ups: half as many)")
      ->check(CLI::Range(std::int64_t{10}, std::int64_t{10'000'000}))
      ->capture_default_str();
  demo->add_option("--path", options.path, "Where to write the sample database (replaced)")
      ->capture_default_str();
  demo->add_option("--seed", options.seed, "Random seed of the sample data")->capture_default_str();
  return demo;
}

int run_demo(const DemoOptions& options) {
  const std::filesystem::path path(options.path);
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::cout << fmt::format("== 1. sample database: {}\n", options.path);
  const auto demo = store::create_demo_database(options.path, options.users, options.seed);
  std::map<store::DemoRowKind, std::int64_t> counts;
  for (const auto& [key, kind] : demo.pending) ++counts[kind];
  std::cout << fmt::format(
      "   {} users; {} pending sign-ups: {} share a user's exact email, {} differ only in letter "
      "case, {} have no email, {} are new\n\n",
      demo.users, demo.pending.size(), counts[store::DemoRowKind::kExactDuplicate],
      counts[store::DemoRowKind::kCaseVariant], counts[store::DemoRowKind::kNullEmail],
      counts[store::DemoRowKind::kNewSignup]);

  CleanupConfig config;
  config.database_url = "sqlite:" + options.path;
  config.batch_size = 500;
  config.sample_size = 5;

  std::cout << "== 2. dry run: batch_cleanup --run-once --dry-run --database-url "
            << config.database_url << "\n";
  config.dry_run = true;
  {
    BatchCleanupService service(config);
    std::cout << render_report_text(service.run_once()) << "\n";
  }

  std::cout << "== 3. cleanup: batch_cleanup --run-once --batch-size 500 --database-url "
            << config.database_url << "\n";
  config.dry_run = false;
  CycleReport report;
  {
    BatchCleanupService service(config);
    report = service.run_once();
    std::cout << render_report_text(report) << "\n";
  }

  std::cout << "== 4. what was removed and what was kept, and why\n";
  const auto remaining_keys = store::remaining_demo_pending_keys(options.path);
  const std::set<std::string> remaining(remaining_keys.begin(), remaining_keys.end());
  struct Outcome {
    std::int64_t removed = 0;
    std::int64_t kept = 0;
  };
  std::map<store::DemoRowKind, Outcome> outcomes;
  for (const auto& [key, kind] : demo.pending) {
    if (remaining.count(key)) {
      ++outcomes[kind].kept;
    } else {
      ++outcomes[kind].removed;
    }
  }
  const auto line = [&](store::DemoRowKind kind, const char* what, const char* why,
                        bool should_go) {
    const auto& o = outcomes[kind];
    const bool as_expected = should_go ? o.kept == 0 : o.removed == 0;
    std::cout << fmt::format("   {:<22} removed {:>6}  kept {:>6}  {}{}\n", what, o.removed, o.kept,
                             why, as_expected ? "" : "  << UNEXPECTED");
    return as_expected;
  };
  bool ok = true;
  ok &= line(store::DemoRowKind::kExactDuplicate, "exact duplicates", "a user has this exact email",
             true);
  ok &= line(store::DemoRowKind::kCaseVariant, "case variants",
             "kept: matching is exact, as in the original (Ana@X.COM is not ana@x.com)", false);
  ok &= line(store::DemoRowKind::kNullEmail, "no email", "kept: a NULL email never matches", false);
  ok &= line(store::DemoRowKind::kNewSignup, "new sign-ups", "kept: no user has this email", false);
  std::cout << fmt::format("\n   users table untouched: {} users; {} pending rows remain\n",
                           demo.users, remaining.size());
  std::cout << (ok ? "   every row ended as expected\n" : "   SOME ROWS DID NOT END AS EXPECTED\n");
  return ok && report.failed == 0 ? kExitSuccess : kExitRowsFailed;
}

}  // namespace batch_cleanup::cli
