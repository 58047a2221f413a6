// `batch_cleanup restore --archive-table NAME [--cycle ID | --since TIME] [--dry-run]`: puts
// archived rows back into the pending table; conflicting rows are reported (with the unique
// constraint they conflict on) and skipped.
#pragma once

#include <string>

#include "batch_cleanup/config.h"
#include "config/cli_app_fwd.h"

namespace batch_cleanup::cli {

struct RestoreOptions {
  std::string cycle_id;
  std::string since;
};

// Declares the subcommand. The cleanup options (--database-url, --archive-table, --dry-run,
// the table and column names, --output) are the main command's, accepted after `restore` too.
CLI::App* declare_restore_command(CLI::App& app, RestoreOptions& options);

// Runs the restore and prints its report (text or json). Returns the exit code: 0 every
// selected row restored, 1 some rows skipped (conflicts). Throws ConfigError (exit 2; also for a
// missing privilege), ConnectionError (exit 3) and DatabaseError; with json
// output it first prints a report whose "error" field holds the message.
int run_restore(const CleanupConfig& config, const RestoreOptions& options,
                const std::string& output);

}  // namespace batch_cleanup::cli
