#include "config/option_convert.h"

#include <CLI/CLI.hpp>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "batch_cleanup/errors.h"

namespace batch_cleanup::config {

const std::string& last_value(const Values& values) {
  static const std::string none;
  return values.empty() ? none : values.back();
}

bool flag_value(const Values& values, const char* flag) {
  bool out = false;
  // The conversion CLI11 gives a boolean flag.
  if (!CLI::detail::lexical_cast(last_value(values), out)) {
    throw ConfigError(std::string("invalid ") + flag + " '" + last_value(values) +
                      "': use true or false");
  }
  return out;
}

std::int64_t integer_value(const Values& values, const char* flag) {
  std::int64_t out = 0;
  if (!CLI::detail::lexical_cast(last_value(values), out)) {
    throw ConfigError(std::string("invalid ") + flag + " '" + last_value(values) +
                      "': use a whole number");
  }
  return out;
}

int small_integer_value(const Values& values, const IntRange& range) {
  const auto value = integer_value(values, range.flag);
  if (value > range.hi) return static_cast<int>(range.hi + 1);
  if (value < range.lo) return static_cast<int>(range.lo - 1);
  return static_cast<int>(value);
}

double real_value(const Values& values, const char* flag) {
  double out = 0;
  if (!CLI::detail::lexical_cast(last_value(values), out)) {
    throw ConfigError(std::string("invalid ") + flag + " '" + last_value(values) +
                      "': use a number");
  }
  return out;
}

std::chrono::milliseconds duration_value(const Values& values, BareUnit bare) {
  return parse_duration(last_value(values), bare);
}

std::int64_t max_deletes_value(const std::string& text) {
  std::size_t used = 0;
  long long value = -1;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (text.empty() || used != text.size() || value < 0 || text[0] == '+' || text[0] == ' ') {
    throw ConfigError("invalid --max-deletes '" + text +
                      "': use a whole number of rows, 0 or more");
  }
  return value;
}

double max_fraction_value(const std::string& text) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (text.empty() || used != text.size() || !(value > 0 && value <= 1) || text[0] == ' ') {
    throw ConfigError("invalid --max-fraction '" + text +
                      "': use a number greater than 0 and at most 1 (0.1 = 10%)");
  }
  return value;
}

std::chrono::milliseconds age_value(const std::string& text, const char* flag) {
  if (text.empty() || std::isdigit(static_cast<unsigned char>(text.back())) != 0) {
    throw ConfigError(std::string("invalid ") + flag + " '" + text +
                      "': give a duration with a unit, e.g. 15m, 36h or 7d");
  }
  const auto age = parse_duration(text, BareUnit::kSeconds);
  if (age.count() < 1000) {
    throw ConfigError(std::string("invalid ") + flag + " '" + text + "': must be at least 1s");
  }
  return age;
}

std::chrono::milliseconds expiry_grace_value(const std::string& text, const char* flag) {
  if (text == "0") return std::chrono::milliseconds(0);
  if (text.empty() || std::isdigit(static_cast<unsigned char>(text.back())) != 0) {
    throw ConfigError(std::string("invalid ") + flag + " '" + text +
                      "': give a duration with a unit, e.g. 0s, 15m or 1h");
  }
  return parse_duration(text, BareUnit::kSeconds);
}

EmailNormalization normalization_value(const std::string& text) {
  if (text == "none") return EmailNormalization::kNone;
  if (text == "lower") return EmailNormalization::kLower;
  if (text == "lower-trim") return EmailNormalization::kLowerTrim;
  if (text == "collation") return EmailNormalization::kCollation;
  throw ConfigError("invalid --normalize-email '" + text +
                    "': use none, lower, lower-trim or collation");
}

BatchStrategy strategy_value(const std::string& text) {
  if (text == "physical") return BatchStrategy::kPhysical;
  if (text == "key") return BatchStrategy::kKey;
  if (text == "email") return BatchStrategy::kEmail;
  if (text == "auto") return BatchStrategy::kAuto;
  throw ConfigError("invalid --batch-strategy '" + text + "': use auto, physical, key or email");
}

std::vector<std::string> read_list_file(const std::string& path, const char* flag) {
  std::ifstream in(path);
  if (!in) {
    throw ConfigError(std::string("cannot read ") + flag + " '" + path +
                      "': " + std::strerror(errno));
  }
  std::vector<std::string> values;
  std::string line;
  while (std::getline(in, line)) {
    for (std::size_t hash = line.find('#'); hash != std::string::npos;
         hash = line.find('#', hash + 1)) {
      if (hash == 0 || line[hash - 1] == ' ' || line[hash - 1] == '\t') {
        line.erase(hash);
        break;
      }
    }
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) continue;
    const auto last = line.find_last_not_of(" \t\r");
    values.push_back(line.substr(first, last - first + 1));
  }
  return values;
}

}  // namespace batch_cleanup::config
