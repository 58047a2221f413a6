// Fuzzes the duration parser (--interval, timeouts, --archive-retention) and --since.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "batch_cleanup/errors.h"
#include "config/duration.h"
#include "config/since_time.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  using batch_cleanup::config::BareUnit;
  for (const auto unit : {BareUnit::kHours, BareUnit::kSeconds, BareUnit::kMilliseconds}) {
    try {
      const auto value = batch_cleanup::config::parse_duration(text, unit);
      if (value.count() < 0) std::abort();  // a duration is never negative
      (void)batch_cleanup::config::format_duration(value);
    } catch (const batch_cleanup::ConfigError&) {
    }
  }
  try {
    const auto since = batch_cleanup::config::parse_since(
        text, std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000)));
    // Only digits, separators and a zone reach the SQL parameter.
    if (since.find_first_not_of("0123456789-:.TZ+") != std::string::npos) std::abort();
  } catch (const batch_cleanup::ConfigError&) {
  }
  return 0;
}
