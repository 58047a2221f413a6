#include "config/since_time.h"

#include <regex>

#include "batch_cleanup/errors.h"
#include "config/duration.h"
#include "util/time_format.h"

namespace batch_cleanup::config {

std::string parse_since(std::string_view text, std::chrono::system_clock::time_point now) {
  static const std::regex kTimestamp(
      R"(^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?))?(Z|[+-]\d{2}:\d{2})?$)");
  const std::string value(text);
  std::smatch match;
  if (std::regex_match(value, match, kTimestamp)) {
    const int month = std::stoi(value.substr(5, 2));
    const int day = std::stoi(value.substr(8, 2));
    if (month < 1 || month > 12 || day < 1 || day > 31) {
      throw ConfigError("invalid --since '" + value + "': no such date");
    }
    if (match[2].matched) {
      const std::string clock = match[2].str();
      if (std::stoi(clock.substr(0, 2)) > 23 || std::stoi(clock.substr(3, 2)) > 59 ||
          (clock.size() >= 8 && std::stoi(clock.substr(6, 2)) > 59)) {
        throw ConfigError("invalid --since '" + value + "': no such time of day");
      }
    }
    const std::string clock = match[2].matched ? match[2].str() : "00:00";
    const std::string zone = match[3].matched ? match[3].str() : "Z";
    return match[1].str() + "T" + (clock.size() == 5 ? clock + ":00" : clock) + zone;
  }
  std::chrono::milliseconds ago{};
  try {
    ago = parse_duration(text, BareUnit::kHours);
  } catch (const ConfigError&) {
    throw ConfigError("invalid --since '" + value +
                      "': use an ISO-8601 time (2026-11-29T16:00:00Z) or a duration ago (2h, 7d)");
  }
  // Keeps now - ago inside system_clock's range (nanoseconds: about 292 years either way).
  if (ago > std::chrono::hours(24 * 365 * 100)) {
    throw ConfigError("invalid --since '" + value + "': more than 100 years ago");
  }
  return util::iso8601_utc(now -
                           std::chrono::duration_cast<std::chrono::system_clock::duration>(ago));
}

}  // namespace batch_cleanup::config
