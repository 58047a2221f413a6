// batch_cleanup command line: seed-compatible --run-once / --daemon, plus subcommands.
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include "batch_cleanup/batch_cleanup.h"
#include "cli/demo.h"
#include "cli/exit_codes.h"
#include "cli/report_text.h"
#include "cli/restore_command.h"
#include "cli/signals.h"
#include "config/database_url.h"
#include "config/options.h"
#include "log/logger.h"
#include "store/cleanup_store.h"

namespace batch_cleanup::cli {
namespace {

void print_report(const CycleReport& report, const std::string& output) {
  if (output == "json") {
    std::cout << report.to_json() << std::endl;
  } else {
    std::cout << render_report_text(report) << std::flush;
  }
}

int run_once(BatchCleanupService& service, const std::string& output) {
  const CycleReport report = service.run_once();
  print_report(report, output);
  return report.failed > 0 ? kExitRowsFailed : kExitSuccess;
}

int run_daemon(BatchCleanupService& service, const std::string& output) {
  struct Context {
    std::string output;
  } context{output};
  service.set_observer(
      [](const CycleReport* report, const std::string*, void* ctx) {
        if (report != nullptr) print_report(*report, static_cast<Context*>(ctx)->output);
      },
      &context);
  logging::logger()->info("daemon started: a cycle every {} ms", service.config().interval.count());
  service.start();
  while (!service.stop_requested()) {
    const auto status = service.status();
    if (!status.running && status.halted_on_config_error) {
      service.stop();
      return kExitUsage;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  service.stop();
  logging::logger()->info("daemon stopped");
  return kExitSuccess;
}

int run(int argc, char** argv) {
  CLI::App app{
      "batch_cleanup: deletes pending (unverified) sign-ups whose email already exists in the "
      "users table, in short batched transactions, on PostgreSQL or SQLite.\n"
      "Exit codes: 0 success, 1 some rows could not be deleted, 2 usage/configuration error, "
      "3 database unreachable.",
      "batch_cleanup"};
  app.set_version_flag("--version", "batch_cleanup 0.1.0");
  CleanupConfig config;
  config::OptionTexts texts;
  config::CliSettings cli;
  config::declare_options(app, config, texts, &cli);
  DemoOptions demo_options;
  auto* demo = declare_demo_command(app, demo_options);
  RestoreOptions restore_options;
  auto* restore = declare_restore_command(app, restore_options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitSuccess : kExitUsage;
  }

  try {
    logging::configure_logging(cli.log_level, cli.log_file);
    if (demo->parsed()) {
      // The demo's own output tells the story; keep the log to warnings unless asked.
      if (app.get_option("--log-level")->count() == 0 && std::getenv("LOG_LEVEL") == nullptr) {
        logging::configure_logging("warning", cli.log_file);
      }
      return run_demo(demo_options);
    }
    config::finish_options(texts, config);
    if (restore->parsed()) return run_restore(config, restore_options, cli.output);
    if (!cli.run_once && !cli.daemon) {
      throw ConfigError("nothing to do: pass --run-once, --daemon, or a subcommand (see --help)");
    }
    // Resolve the URL now: a missing or unsupported URL is a usage error before any work.
    if (config.database_url.empty()) {
      const char* env = std::getenv("DATABASE_URL");
      config.database_url = env ? env : "";
    }
    const auto target = config::parse_database_url(config.database_url);
    logging::logger()->debug("database {}", target.redacted);

    BatchCleanupService service(config);
    block_termination_signals();
    start_signal_thread([&service](int) { service.request_stop(); });
    return cli.daemon ? run_daemon(service, cli.output) : run_once(service, cli.output);
  } catch (const ConfigError& e) {
    logging::logger()->error("{}", e.what());
    return kExitUsage;
  } catch (const ConnectionError& e) {
    logging::logger()->error("{}", e.what());
    return kExitUnreachable;
  } catch (const DatabaseError& e) {
    logging::logger()->error("cycle failed: SQLSTATE {}: {}", e.sqlstate(), e.what());
    return kExitRowsFailed;
  } catch (const std::exception& e) {
    logging::logger()->error("unexpected error: {}", e.what());
    return kExitRowsFailed;
  }
}

}  // namespace
}  // namespace batch_cleanup::cli

int main(int argc, char** argv) { return batch_cleanup::cli::run(argc, argv); }
