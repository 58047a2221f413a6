// The --since argument of `restore`: an ISO-8601 time or a duration ago.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace batch_cleanup::config {

// "2026-11-29", "2026-11-29T16:00", "2026-11-29 16:00:05.25+02:00", "…Z" (a time without a
// zone is UTC), or a duration before `now` ("2h", "30m", "7d"). Returns a timestamp both
// PostgreSQL and SQLite read: "2026-11-29T16:00:00Z", "2026-11-29T16:00:05.25+02:00", or the
// ISO-8601 UTC form of now - duration. Throws ConfigError.
std::string parse_since(std::string_view text, std::chrono::system_clock::time_point now);

}  // namespace batch_cleanup::config
