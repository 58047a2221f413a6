// The library's logger. The CLI configures it; an embedding host may too.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace batch_cleanup::logging {

// The "batch_cleanup" logger; created on first use with a stderr sink at info level.
std::shared_ptr<spdlog::logger> logger();

// Replaces the logger's sinks: stderr, plus `log_file` when non-empty, at `level` (trace,
// debug, info, warning/warn, error), in `format`: "text" (a timestamped line) or "json" (one
// JSON object per line, see json_formatter.h). Throws ConfigError for an unknown level or
// format, or a file that cannot be opened.
void configure_logging(const std::string& level, const std::string& log_file,
                       const std::string& format = "text");

// Parses a level name; throws ConfigError naming the accepted values.
spdlog::level::level_enum parse_level(const std::string& level);

}  // namespace batch_cleanup::logging
