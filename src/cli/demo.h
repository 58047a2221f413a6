// `batch_cleanup demo`: builds a sample SQLite database, shows a dry run, cleans up, and
// explains what was removed and kept.
#pragma once

#include <cstdint>
#include <string>

#include "config/cli_app_fwd.h"

namespace batch_cleanup::cli {

struct DemoOptions {
  std::int64_t users = 5000;
  std::string path = "demo/batch_cleanup_demo.db";
  std::uint64_t seed = 42;
};

CLI::App* declare_demo_command(CLI::App& app, DemoOptions& options);

// Returns the process exit code (0 when every row ended as expected).
int run_demo(const DemoOptions& options);

}  // namespace batch_cleanup::cli
