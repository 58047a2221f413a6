// batch_cleanup command line: seed-compatible --run-once / --daemon, plus subcommands.
#include "cli/command_line.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "batch_cleanup/batch_cleanup.h"
#include "batch_cleanup/version.h"
#include "cli/config_command.h"
#include "cli/demo.h"
#include "cli/docs_command.h"
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
#include "config/resolve_config.h"
#include "engine/report_json.h"
#include "http/metrics_publisher.h"
#include "http/status_server.h"
#include "http/web_config.h"
#include "log/log_context.h"
#include "log/logger.h"
#include "log/mask.h"
#include "store/store.h"
#include "systemd/notify.h"

namespace batch_cleanup::cli {
namespace {

// What the CLI prints after each cycle, besides the report.
struct CycleOutput {
  std::string output;
  bool statistics = false;
  ProgressBar* progress_bar = nullptr;  // null when no bar is drawn
  // The job's name when the configuration file names its jobs: a header line before a text
  // report, a "job" field in a JSON one. Empty: the implicit job, printed as it always was.
  std::string job;
};

// Reports of jobs running side by side must not interleave.
std::mutex g_print_mutex;

void print_report(const CycleReport& report, const CycleOutput& how) {
  std::lock_guard lock(g_print_mutex);
  if (how.progress_bar != nullptr) how.progress_bar->finish();
  if (how.output == "json") {
    auto object = engine::report_json(report);
    if (!how.job.empty()) object["job"] = how.job;
    std::cout << object.dump() << std::endl;
  } else {
    if (!how.job.empty()) std::cout << "== job " << how.job << " ==\n";
    std::cout << render_report_text(report) << std::flush;
  }
  if (how.statistics && !report.dry_run) std::cerr << render_statistics(report) << std::flush;
}

// What happens when a job's cycle ends (the service's cycle observer).
struct CycleHooks {
  const CycleOutput* print = nullptr;           // how the report is printed (a failed cycle's too)
  http::MetricsPublisher* publisher = nullptr;  // --metrics-file, --push-metrics
  std::size_t index = 0;                        // the job's index for the publisher
};

void on_cycle_end(const CycleReport* report, const std::string*, void* ctx) {
  const auto& hooks = *static_cast<const CycleHooks*>(ctx);
  if (report != nullptr && hooks.print != nullptr) print_report(*report, *hooks.print);
  if (hooks.publisher != nullptr) hooks.publisher->cycle_ended(hooks.index);
}

// One job of the command line: its service and how its reports are printed.
struct Job {
  std::string name;
  std::unique_ptr<BatchCleanupService> service;
  std::unique_ptr<ProgressBar> bar;
  CycleOutput how;
  CycleHooks hooks;
};

// "highest wins": 4 lease held > 3 unreachable > 2 configuration > 1 rows failed > 0.
int worst_exit_code(int a, int b) { return std::max(a, b); }

// The exit code of a cycle a database error ended. The server refusing the credentials or the
// client's address, or a privilege the run needs, is the operator's configuration to fix (2),
// like a wrong table name: the database was reached, so it is not "unreachable" (3), and no
// retry would help. Anything else is the cycle failing (1).
int exit_code_of(ErrorCause cause) {
  switch (cause) {
    case ErrorCause::kAuthentication:
    case ErrorCause::kPrivilege:
      return kExitUsage;
    default:
      return kExitRowsFailed;
  }
}

// Logs why the command failed and returns its exit code. `stopped`: SIGINT/SIGTERM had been
// received, so a ConnectionError (waiting to reconnect) is a requested stop, not a failure.
int log_failure(const std::exception_ptr& failure, bool stopped) {
  try {
    std::rethrow_exception(failure);
  } catch (const ConfigError& e) {
    logging::logger()->error("{}", e.what());
    return kExitUsage;
  } catch (const ConnectionError& e) {
    if (stopped) {
      logging::logger()->info("stopped before the database could be reached");
      return kExitSuccess;
    }
    logging::logger()->error("{}", e.what());
    return kExitUnreachable;
  } catch (const DatabaseError& e) {
    logging::logger()->error("cycle failed ({}{}{}): {}", cause_name(e.cause()),
                             e.code().empty() ? "" : " ", e.code(), e.what());
    return exit_code_of(e.cause());
  } catch (const std::exception& e) {
    logging::logger()->error("unexpected error: {}", e.what());
    return kExitRowsFailed;
  }
}

// Runs `job` once; its report (also a failed cycle's, with what it committed) is printed by the
// cycle observer. Returns the exit code; errors are logged here.
int run_once(Job& job) {
  logging::JobLogScope job_scope(job.service->config().job_name);
  try {
    const CycleReport report = job.service->run_once();
    if (report.skipped_by_lock) return kExitLeaseHeld;
    return report.failed > 0 ? kExitRowsFailed : kExitSuccess;
  } catch (...) {
    return log_failure(std::current_exception(), job.service->stop_requested());
  }
}

// One line for systemd's STATUS=, from the last cycle.
std::string systemd_status(const ServiceStatus& status) {
  if (status.cycle_in_progress) return "STATUS=cycle in progress";
  if (status.halted_on_config_error) {
    std::string error = status.last_error;
    std::replace(error.begin(), error.end(), '\n', ' ');
    return "STATUS=halted: " + error;
  }
  if (!status.last_error.empty()) {
    // A newline would start a new assignment in the notification.
    std::string error = status.last_error;
    std::replace(error.begin(), error.end(), '\n', ' ');
    return "STATUS=last cycle failed: " + error;
  }
  if (status.last_report) {
    return "STATUS=last cycle deleted " + std::to_string(status.last_report->deleted) +
           " row(s), failed " + std::to_string(status.last_report->failed) + "; total deleted " +
           std::to_string(status.totals.deleted);
  }
  return "STATUS=waiting for the first cycle";
}

// STATUS= for several jobs: "STATUS=a: <status>; b: <status>".
std::string systemd_status(const std::vector<Job>& jobs,
                           const std::vector<ServiceStatus>& statuses) {
  if (jobs.size() == 1) return systemd_status(statuses.front());
  std::string line = "STATUS=";
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (i) line += "; ";
    line += jobs[i].name + ": " + systemd_status(statuses[i]).substr(7);
  }
  return line;
}

void stop_all(std::vector<Job>& jobs) {
  for (auto& job : jobs) job.service->request_stop();
  for (auto& job : jobs) job.service->stop();
}

// Runs every job on its own thread until a signal, or until every job has halted on a
// configuration or guard error (exit 2). A job that halts stops alone: the others go on.
// `started` is called once the jobs' threads run.
int run_daemon(std::vector<Job>& jobs, const std::function<void()>& started) {
  for (auto& job : jobs) {
    job.hooks.print = &job.how;
    job.service->set_observer(on_cycle_end, &job.hooks);
    logging::JobLogScope job_scope(job.service->config().job_name);
    logging::logger()->info("daemon started: a cycle every {} ms",
                            job.service->config().interval.count());
  }
  for (auto& job : jobs) job.service->start();
  started();
  systemd::notify("READY=1\nSTATUS=daemon started");
  const auto watchdog = systemd::watchdog_ping_interval();
  auto last_ping = std::chrono::steady_clock::now();
  std::string last_status;
  std::vector<bool> halted(jobs.size(), false);
  if (watchdog.count() > 0) systemd::notify("WATCHDOG=1");
  // A signal asks every job to stop.
  while (!jobs.front().service->stop_requested()) {
    std::vector<ServiceStatus> statuses;
    bool all_alive = true;
    std::size_t halted_count = 0;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      statuses.push_back(jobs[i].service->status());
      const auto& status = statuses.back();
      const bool job_halted = !status.running && status.halted_on_config_error;
      if (job_halted && !halted[i]) {
        halted[i] = true;
        if (jobs.size() > 1) {
          logging::JobLogScope job_scope(jobs[i].service->config().job_name);
          logging::logger()->error("job {} halted on a configuration error; the other jobs go on",
                                   jobs[i].name);
        }
      }
      halted_count += job_halted ? 1 : 0;
      all_alive = all_alive && (status.running || job_halted);
    }
    if (halted_count == jobs.size()) {
      systemd::notify(systemd_status(jobs, statuses));
      systemd::notify("STOPPING=1\nSTATUS=halted on a configuration error");
      stop_all(jobs);
      if (jobs.size() > 1) logging::logger()->error("every job has halted: the daemon exits");
      return kExitUsage;
    }
    // The watchdog is fed only while every worker thread is alive (or halted on purpose).
    const auto now = std::chrono::steady_clock::now();
    if (watchdog.count() > 0 && all_alive && now - last_ping >= watchdog) {
      systemd::notify("WATCHDOG=1");
      last_ping = now;
    }
    auto line = systemd_status(jobs, statuses);
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
  stop_all(jobs);
  logging::logger()->info("daemon stopped");
  return kExitSuccess;
}

// The one job a subcommand works on: `name`, or the only job of the configuration.
const config::ResolvedJob& single_job(const config::ResolvedConfig& resolved,
                                      const std::string& command, const std::string& name = "") {
  if (!name.empty()) {
    for (const auto& job : resolved.jobs) {
      if (job.name == name) return job;
    }
    if (resolved.named_jobs) {
      throw ConfigError("no job '" + name + "' in " + resolved.config_path);
    }
    return resolved.jobs.front();
  }
  if (resolved.jobs.size() > 1) {
    throw ConfigError(command + " works on one job, and " + resolved.config_path + " declares " +
                      std::to_string(resolved.jobs.size()) + "; name one with --job");
  }
  return resolved.jobs.front();
}

bool draw_progress_bar(const std::string& setting) {
  if (setting == "always") return true;
  if (setting == "never") return false;
  return isatty(STDERR_FILENO) == 1;
}

// Resolves the URL now: a missing or unsupported URL is a usage error before any work.
void resolve_database_url(CleanupConfig& config) {
  config.database_url = config::database_url_of(config);
  const auto target = config::parse_database_url(config.database_url);
  logging::logger()->debug("database {}", target.redacted);
}

// The SQLite instance lock is one per database file, so daemon jobs on the same file would skip
// each other's cycles ("another instance holds the lock"): they wait for it instead, taking
// turns as SQLite's single writer makes them do anyway.
void take_turns_on_shared_sqlite_files(std::vector<CleanupConfig>& configs) {
  std::map<std::string, std::vector<CleanupConfig*>> by_file;
  for (auto& c : configs) {
    const auto file = store::lock_file_of(config::parse_database_url(c.database_url));
    if (file) by_file[*file].push_back(&c);
  }
  for (auto& [file, jobs] : by_file) {
    if (jobs.size() < 2) continue;
    std::string names;
    for (auto* c : jobs) {
      c->wait_lock = true;
      names += (names.empty() ? "" : ", ") + c->job_name;
    }
    logging::logger()->info("jobs {} share the SQLite database {}: they take turns (wait-lock)",
                            names, file);
  }
}

}  // namespace

int run_command_line(int argc, char** argv) {
  CLI::App app{
      "batch_cleanup: deletes pending (unverified) sign-ups whose email already exists in the "
      "users table (and, with --match and --expire-after, those whose phone does or that are too "
      "old), in short batched transactions, on PostgreSQL or SQLite.\n"
      "Options come from flags, then environment variables, then --config FILE, then defaults.\n"
      "Exit codes: 0 success, 1 some rows could not be deleted, 2 usage/configuration error "
      "(also credentials, pg_hba or a privilege refused), 3 database unreachable.",
      "batch_cleanup"};
  app.set_version_flag("--version", std::string("batch_cleanup ") + kVersion);
  app.fallthrough();     // options of the main command may follow a subcommand
  CleanupConfig unused;  // the values are read once, by resolve_config()
  config::OptionTexts texts;
  config::CliSettings cli;
  config::declare_options(app, unused, texts, &cli);
  DemoOptions demo_options;
  auto* demo = declare_demo_command(app, demo_options);
  std::string job_name;  // --job of a subcommand
  auto* explain = app.add_subcommand(
      "explain",
      "Print the batch shape chosen (and why) and the query plans of the batch statements for "
      "the configured tables (reads only)");
  explain->add_option("--job", job_name, "The job of the configuration file to explain");
  HistoryOptions history_options;
  auto* history = declare_history_command(app, history_options);
  RestoreOptions restore_options;
  auto* restore = declare_restore_command(app, restore_options);
  restore->add_option("--job", job_name, "The job of the configuration file to restore for");
  auto* config_command = declare_config_command(app);
  DocsOptions docs_options;
  auto* docs = declare_docs_command(app, docs_options);  // hidden: man pages, completions

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitSuccess : kExitUsage;
  }
  if (docs->parsed()) return run_docs(app, docs_options);

  std::vector<Job> jobs;
  try {
    // The flags and the environment, read once with their sources.
    const auto given = config::given_options(app);
    cli = config::given_cli_settings(given);
    logging::configure_logging(cli.log_level, cli.log_file, cli.log_format);
    if (demo->parsed()) {
      // The demo's own output tells the story; keep the log to warnings unless asked.
      if (app.get_option("--log-level")->count() == 0 && std::getenv("LOG_LEVEL") == nullptr) {
        logging::configure_logging("warning", cli.log_file, cli.log_format);
      }
      return run_demo(demo_options);
    }
    // Flags and environment over the configuration file over the defaults, per job.
    const auto resolved = config::resolve_config(given, cli.config_file);
    if (resolved.cli.log_level != cli.log_level || resolved.cli.log_file != cli.log_file ||
        resolved.cli.log_format != cli.log_format) {
      logging::configure_logging(resolved.cli.log_level, resolved.cli.log_file,
                                 resolved.cli.log_format);
    }
    cli = resolved.cli;
    for (const auto& warning : resolved.warnings) logging::logger()->warn("{}", warning);
    if (config_command->parsed()) return run_config(resolved, cli.output);
    if (explain->parsed()) return run_explain(single_job(resolved, "explain", job_name).config);
    if (history->parsed()) {
      // Without --job: every job's cycles, from the first job's database and history table.
      auto job = history_options.job.empty()
                     ? resolved.jobs.front().config
                     : single_job(resolved, "history", history_options.job).config;
      resolve_database_url(job);
      return run_history(job, history_options, cli.output);
    }
    if (restore->parsed()) {
      return run_restore(single_job(resolved, "restore", job_name).config, restore_options,
                         cli.output);
    }
    if (!cli.run_once && !cli.daemon) {
      throw ConfigError("nothing to do: pass --run-once, --daemon, or a subcommand (see --help)");
    }
    std::optional<http::ListenAddress> listen;
    if (!cli.http_listen.empty()) listen = http::parse_listen_address(cli.http_listen);
    http::WebConfig web_config;
    if (!cli.web_config_file.empty()) {
      if (!listen) throw ConfigError("--web-config-file needs --http-listen");
      web_config = http::load_web_config(cli.web_config_file);
    }
    std::vector<CleanupConfig> configs;
    bool every_job_shows_pii = true;
    for (const auto& resolved_job : resolved.jobs) {
      configs.push_back(resolved_job.config);
      resolve_database_url(configs.back());
      every_job_shows_pii = every_job_shows_pii && resolved_job.config.log_pii;
    }
    // Log lines are the process's: they show addresses only when every job opted in.
    logging::set_show_pii(every_job_shows_pii);
    if (cli.daemon) take_turns_on_shared_sqlite_files(configs);
    for (std::size_t i = 0; i < resolved.jobs.size(); ++i) {
      const auto& resolved_job = resolved.jobs[i];
      Job job;
      job.name = resolved_job.name;
      const CleanupConfig& job_config = configs[i];
      job.service = std::make_unique<BatchCleanupService>(job_config);
      job.how = CycleOutput{cli.output, cli.statistics, nullptr,
                            resolved.named_jobs ? resolved_job.name : ""};
      jobs.push_back(std::move(job));
    }
    // Jobs of a daemon run side by side: one bar cannot show them all.
    const bool side_by_side = cli.daemon && jobs.size() > 1;
    if (draw_progress_bar(cli.progress_bar) && !side_by_side) {
      std::vector<ProgressBar*> bars;
      for (auto& job : jobs) {
        job.bar = std::make_unique<ProgressBar>(stderr);
        job.how.progress_bar = job.bar.get();
        bars.push_back(job.bar.get());
        job.service->set_progress_observer(
            [raw = job.bar.get()](const CycleProgress& p) { raw->update(p); });
      }
      // A log line written while a bar is drawn starts on a line of its own.
      auto& sinks = logging::logger()->sinks();
      sinks.insert(sinks.begin(), make_line_ending_sink(std::move(bars)));
    }
    std::vector<http::JobService> services;
    services.reserve(jobs.size());
    for (const auto& job : jobs) services.push_back({job.name, job.service.get()});
    http::MetricsPublisher publisher(services,
                                     {cli.metrics_file, cli.push_metrics, resolved.named_jobs});
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      jobs[i].hooks.publisher = publisher.enabled() ? &publisher : nullptr;
      jobs[i].hooks.index = i;
      jobs[i].hooks.print = &jobs[i].how;
      jobs[i].service->set_observer(on_cycle_end, &jobs[i].hooks);
    }
    block_termination_signals();
    // Declared after the jobs: destroyed (joined) before them.
    const SignalThread signals([&jobs](int) {
      for (auto& job : jobs) job.service->request_stop();
    });
    std::unique_ptr<http::StatusServer> server;
    if (listen) {
      server = std::make_unique<http::StatusServer>(
          services, http::ServerOptions{cli.unhealthy_after, resolved.named_jobs, cli.daemon,
                                        std::move(web_config)});
      server->start(*listen);
    }
    int code = kExitSuccess;
    if (cli.daemon) {
      code = run_daemon(jobs, [&] {
        if (server) server->set_workers_started();
      });
    } else {
      for (auto& job : jobs) {
        code = worst_exit_code(code, run_once(job));
        if (job.service->stop_requested()) break;
      }
    }
    if (server) server->stop();
    return code;
  } catch (...) {
    return log_failure(std::current_exception(), false);
  }
}

}  // namespace batch_cleanup::cli
