// Parsing of durations such as "90s", "15m", "2h", "7d", "250ms" or a bare number.
#pragma once

#include <chrono>
#include <string_view>

namespace batch_cleanup::config {

enum class BareUnit { kHours, kSeconds, kMilliseconds };

// Parses one or more <number><unit> parts ("1h30m"); units: ms, s, m, h, d. A bare number
// ("1", "0.5") is read in `bare_unit` (hours for --interval, the seed's convention).
// Throws ConfigError for empty, negative, malformed or overflowing input.
std::chrono::milliseconds parse_duration(std::string_view text, BareUnit bare_unit);

// "1h 30m", "250ms", "0s": a short human form for logs and --help.
std::string format_duration(std::chrono::milliseconds value);

}  // namespace batch_cleanup::config
