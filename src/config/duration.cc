#include "config/duration.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <string>

#include "batch_cleanup/errors.h"

namespace batch_cleanup::config {
namespace {

[[noreturn]] void fail(std::string_view text, std::string_view why) {
  throw ConfigError(
      fmt::format("invalid duration '{}': {} (examples: 90s, 15m, 2h, 7d, 250ms, or a bare number)",
                  text, why));
}

double unit_ms(std::string_view unit, std::string_view text) {
  if (unit == "ms") return 1.0;
  if (unit == "s") return 1000.0;
  if (unit == "m") return 60'000.0;
  if (unit == "h") return 3'600'000.0;
  if (unit == "d") return 86'400'000.0;
  fail(text, fmt::format("unknown unit '{}'", unit));
}

double bare_ms(BareUnit unit) {
  switch (unit) {
    case BareUnit::kHours:
      return 3'600'000.0;
    case BareUnit::kSeconds:
      return 1000.0;
    case BareUnit::kMilliseconds:
      return 1.0;
  }
  return 1.0;
}

}  // namespace

std::chrono::milliseconds parse_duration(std::string_view text, BareUnit bare_unit) {
  std::size_t pos = 0;
  while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
  std::size_t end = text.size();
  while (end > pos && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  const std::string_view body = text.substr(pos, end - pos);
  if (body.empty()) fail(text, "empty");

  double total = 0;
  std::size_t i = 0;
  bool any_unit = false;
  int parts = 0;
  while (i < body.size()) {
    const std::size_t number_start = i;
    bool seen_digit = false;
    bool seen_dot = false;
    while (i < body.size() &&
           (std::isdigit(static_cast<unsigned char>(body[i])) || body[i] == '.')) {
      if (body[i] == '.') {
        if (seen_dot) fail(text, "two decimal points");
        seen_dot = true;
      } else {
        seen_digit = true;
      }
      ++i;
    }
    if (!seen_digit) {
      if (number_start < body.size() && body[number_start] == '-')
        fail(text, "must not be negative");
      fail(text, "expected a number");
    }
    if (i - number_start > 15) fail(text, "number too long");
    const double number = std::stod(std::string(body.substr(number_start, i - number_start)));
    const std::size_t unit_start = i;
    while (i < body.size() && std::isalpha(static_cast<unsigned char>(body[i]))) ++i;
    const std::string_view unit = body.substr(unit_start, i - unit_start);
    ++parts;
    if (unit.empty()) {
      if (i != body.size() || parts > 1) fail(text, "a number without a unit must stand alone");
      total += number * bare_ms(bare_unit);
    } else {
      any_unit = true;
      total += number * unit_ms(unit, text);
    }
  }
  (void)any_unit;
  if (!std::isfinite(total) || total > 1e15) fail(text, "too large");
  return std::chrono::milliseconds(static_cast<long long>(std::llround(total)));
}

std::string format_duration(std::chrono::milliseconds value) {
  long long ms = value.count();
  if (ms == 0) return "0s";
  if (ms < 1000) return fmt::format("{}ms", ms);
  std::string out;
  const long long units[] = {86'400'000, 3'600'000, 60'000, 1000};
  const char* names[] = {"d", "h", "m", "s"};
  for (int u = 0; u < 4; ++u) {
    if (ms >= units[u]) {
      if (!out.empty()) out += ' ';
      out += fmt::format("{}{}", ms / units[u], names[u]);
      ms %= units[u];
    }
  }
  if (ms > 0) out += fmt::format(" {}ms", ms);
  return out;
}

}  // namespace batch_cleanup::config
