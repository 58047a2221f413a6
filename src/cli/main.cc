// batch_cleanup command line: seed-compatible --run-once / --daemon, plus subcommands.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "batch_cleanup/batch_cleanup.h"
#include "cli/demo.h"
#include "cli/exit_codes.h"
#include "cli/explain.h"
#include "cli/history_command.h"
#include "cli/progress_bar.h"
#include "cli/report_text.h"
#include "cli/restore_command.h"
#include "cli/signals.h"
#include "cli/statistics_table.h"
#include "config/database_url.h"
#include "config/options.h"
#include "http/status_server.h"
#include "log/logger.h"
#include "store/cleanup_store.h"
#include "systemd/notify.h"

namespace batch_cleanup::cli {
namespace {

// What the CLI prints after each cycle, besides the report.
struct CycleOutput {
  std::string output;
  bool statistics = false;
  ProgressBar* progress_bar = nullptr;  // null when no bar is drawn
};

void print_report(const CycleReport& report, const CycleOutput& how) {
  if (how.progress_bar != nullptr) how.progress_bar->finish();
  if (how.output == "json") {
    std::cout << report.to_json() << std::endl;
  } else {
    std::cout << render_report_text(report) << std::flush;
  }
  if (how.statistics && !report.dry_run) std::cerr << render_statistics(report) << std::flush;
}

int run_once(BatchCleanupService& service, const CycleOutput& how) {
  const CycleReport report = service.run_once();
  print_report(report, how);
  return report.failed > 0 ? kExitRowsFailed : kExitSuccess;
}

// One line for systemd's STATUS=, from the last cycle.
std::string systemd_status(const ServiceStatus& status) {
  if (status.cycle_in_progress) return "STATUS=cycle in progress";
  if (!status.last_error.empty()) {
    // A newline would start a new assignment in the notification.
    std::string error = status.last_error;
    std::replace(error.begin(), error.end(), '\n', ' ');
    return "STATUS=last cycle failed: " + error;
  }
  if (status.last_report) {
    return "STATUS=last cycle deleted " + std::to_string(status.last_report->deleted) +
           " row(s), failed " + std::to_string(status.last_report->failed) + "; total deleted " +
           std::to_string(status.total_deleted);
  }
  return "STATUS=waiting for the first cycle";
}

int run_daemon(BatchCleanupService& service, CycleOutput& how) {
  service.set_observer(
      [](const CycleReport* report, const std::string*, void* ctx) {
        if (report != nullptr) print_report(*report, *static_cast<const CycleOutput*>(ctx));
      },
      &how);
  logging::logger()->info("daemon started: a cycle every {} ms", service.config().interval.count());
  service.start();
  systemd::notify("READY=1\nSTATUS=daemon started");
  const auto watchdog = systemd::watchdog_ping_interval();
  auto last_ping = std::chrono::steady_clock::now();
  std::string last_status;
  if (watchdog.count() > 0) systemd::notify("WATCHDOG=1");
  while (!service.stop_requested()) {
    const auto status = service.status();
    if (!status.running && status.halted_on_config_error) {
      systemd::notify("STOPPING=1\nSTATUS=halted on a configuration error");
      service.stop();
      return kExitUsage;
    }
    // The watchdog is fed only while the worker thread is alive.
    const auto now = std::chrono::steady_clock::now();
    if (watchdog.count() > 0 && status.running && now - last_ping >= watchdog) {
      systemd::notify("WATCHDOG=1");
      last_ping = now;
    }
    auto line = systemd_status(status);
    if (line != last_status) {
      systemd::notify(line);
      last_status = std::move(line);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(
        watchdog.count() > 0
            ? std::clamp<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(watchdog).count() / 4, 1,
                  100)
            : 100));
  }
  systemd::notify("STOPPING=1\nSTATUS=stopping");
  service.stop();
  logging::logger()->info("daemon stopped");
  return kExitSuccess;
}

bool draw_progress_bar(const std::string& setting) {
  if (setting == "always") return true;
  if (setting == "never") return false;
  return isatty(STDERR_FILENO) == 1;
}

// Resolves the URL now: a missing or unsupported URL is a usage error before any work.
void resolve_database_url(CleanupConfig& config) {
  if (config.database_url.empty()) {
    const char* env = std::getenv("DATABASE_URL");
    config.database_url = env ? env : "";
  }
  const auto target = config::parse_database_url(config.database_url);
  logging::logger()->debug("database {}", target.redacted);
}

int run(int argc, char** argv) {
  CLI::App app{
      "batch_cleanup: deletes pending (unverified) sign-ups whose email already exists in the "
      "users table, in short batched transactions, on PostgreSQL or SQLite.\n"
      "Exit codes: 0 success, 1 some rows could not be deleted, 2 usage/configuration error, "
      "3 database unreachable.",
      "batch_cleanup"};
  app.set_version_flag("--version", "batch_cleanup 0.1.0");
  app.fallthrough();  // options of the main command may follow a subcommand
  CleanupConfig config;
  config::OptionTexts texts;
  config::CliSettings cli;
  config::declare_options(app, config, texts, &cli);
  DemoOptions demo_options;
  auto* demo = declare_demo_command(app, demo_options);
  auto* explain = app.add_subcommand(
      "explain",
      "Print the query plans of the batch statements for the configured tables (reads only)");
  HistoryOptions history_options;
  auto* history = declare_history_command(app, history_options);
  RestoreOptions restore_options;
  auto* restore = declare_restore_command(app, restore_options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitSuccess : kExitUsage;
  }

  std::unique_ptr<BatchCleanupService> service;
  try {
    logging::configure_logging(cli.log_level, cli.log_file, cli.log_format);
    if (demo->parsed()) {
      // The demo's own output tells the story; keep the log to warnings unless asked.
      if (app.get_option("--log-level")->count() == 0 && std::getenv("LOG_LEVEL") == nullptr) {
        logging::configure_logging("warning", cli.log_file, cli.log_format);
      }
      return run_demo(demo_options);
    }
    config::finish_options(texts, config);
    if (explain->parsed()) return run_explain(config);
    if (history->parsed()) {
      resolve_database_url(config);
      return run_history(config, history_options, cli.output);
    }
    if (restore->parsed()) return run_restore(config, restore_options, cli.output);
    if (!cli.run_once && !cli.daemon) {
      throw ConfigError("nothing to do: pass --run-once, --daemon, or a subcommand (see --help)");
    }
    resolve_database_url(config);
    std::optional<http::ListenAddress> listen;
    if (!cli.http_listen.empty()) listen = http::parse_listen_address(cli.http_listen);

    service = std::make_unique<BatchCleanupService>(config);
    std::unique_ptr<ProgressBar> bar;
    if (draw_progress_bar(cli.progress_bar)) {
      bar = std::make_unique<ProgressBar>(stderr);
      service->set_progress_observer([raw = bar.get()](const CycleProgress& p) { raw->update(p); });
    }
    CycleOutput how{cli.output, cli.statistics, bar.get()};
    block_termination_signals();
    start_signal_thread([raw = service.get()](int) { raw->request_stop(); });
    std::unique_ptr<http::StatusServer> server;
    if (listen) {
      server = std::make_unique<http::StatusServer>(*service, cli.unhealthy_after);
      server->start(*listen);
    }
    const int code = cli.daemon ? run_daemon(*service, how) : run_once(*service, how);
    if (server) server->stop();
    return code;
  } catch (const ConfigError& e) {
    logging::logger()->error("{}", e.what());
    return kExitUsage;
  } catch (const ConnectionError& e) {
    if (service && service->stop_requested()) {
      // SIGINT/SIGTERM while waiting to reconnect: a requested stop, not a failure.
      logging::logger()->info("stopped before the database could be reached");
      return kExitSuccess;
    }
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
