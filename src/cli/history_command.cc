#include "cli/history_command.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>

#include "batch_cleanup/history.h"
#include "cli/exit_codes.h"

namespace batch_cleanup::cli {

CLI::App* declare_history_command(CLI::App& app, HistoryOptions& options) {
  auto* command = app.add_subcommand(
      "history", "Print the recent cycles recorded in the history table (--history-table)");
  command->add_option("--limit", options.limit, "How many cycles, newest first (1..10000)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{10000}))
      ->capture_default_str();
  command->add_option("--job", options.job,
                      "Only this job's cycles (with --config: also that job's database and "
                      "history table)");
  // The database and output options of the main command work after "history" too.
  command->fallthrough();
  return command;
}

int run_history(const CleanupConfig& config, const HistoryOptions& options,
                const std::string& output) {
  const auto runs = read_run_history(config, options.limit, options.job);
  if (output == "json") {
    for (const auto& run : runs) std::cout << run.to_json() << "\n";
    std::cout << std::flush;
    return kExitSuccess;
  }
  if (runs.empty()) {
    std::cout << "no cycles recorded in " << config.history_table
              << (options.job.empty() ? "" : " for job " + options.job) << " yet\n";
    return kExitSuccess;
  }
  std::size_t job_width = 3;
  for (const auto& run : runs) job_width = std::max(job_width, run.job.size());
  std::cout << fmt::format(
      "{:<24} {:<12} {:<{}} {:<7} {:<11} {:>10} {:>10} {:>7} {:>7} {:>7} {:>9}  {}\n",
      "started (UTC)", "cycle", "job", job_width, "mode", "outcome", "candidates", "deleted",
      "failed", "skipped", "batches", "ms", "host / error");
  for (const auto& run : runs) {
    std::cout << fmt::format(
        "{:<24} {:<12} {:<{}} {:<7} {:<11} {:>10} {:>10} {:>7} {:>7} {:>7} {:>9.0f}  {}{}\n",
        run.started_at, run.cycle_id, run.job, job_width, run.mode, run.outcome, run.candidates,
        run.deleted, run.failed, run.skipped, run.batches, run.duration_ms, run.host,
        run.error.empty() ? "" : " / " + run.error);
  }
  std::cout << std::flush;
  return kExitSuccess;
}

}  // namespace batch_cleanup::cli
