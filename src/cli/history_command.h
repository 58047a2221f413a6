// `batch_cleanup history [--limit N] [--job NAME] [--output text|json]`: the recent cycles
// recorded in the history table, newest first, of every job or of one.
#pragma once

#include <cstdint>
#include <string>

#include "batch_cleanup/config.h"
#include "config/cli_app_fwd.h"

namespace batch_cleanup::cli {

struct HistoryOptions {
  std::int64_t limit = 20;
  std::string job;  // empty: every job
};

CLI::App* declare_history_command(CLI::App& app, HistoryOptions& options);

// Prints the history to stdout as a table ("text") or one JSON object per line ("json").
// Returns the exit code; throws like read_run_history().
int run_history(const CleanupConfig& config, const HistoryOptions& options,
                const std::string& output);

}  // namespace batch_cleanup::cli
