// `batch_cleanup config [--config FILE] [--output text|json]`: prints the effective value of
// every option, for the process and for each job, and where it came from (flag, environment
// variable, file and line, or default). Secrets are redacted. Never connects to the database.
#pragma once

#include <string>

#include "config/cli_app_fwd.h"
#include "config/resolve_config.h"

namespace batch_cleanup::cli {

CLI::App* declare_config_command(CLI::App& app);

// Prints `resolved` to stdout: aligned columns ("text") or one JSON object ("json"). Returns the
// exit code.
int run_config(const config::ResolvedConfig& resolved, const std::string& output);

}  // namespace batch_cleanup::cli
