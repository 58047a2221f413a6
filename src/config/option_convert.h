// The converters of the option table (option_spec.h): each reads an option's raw texts, as
// given by a flag, an environment variable or the configuration file, into a typed value.
// Every one throws ConfigError naming the option for a text it cannot read.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "batch_cleanup/config.h"
#include "config/duration.h"
#include "config/option_ranges.h"
#include "config/option_spec.h"

namespace batch_cleanup::config {

using Values = std::vector<std::string>;

// The value of a single-valued option: the last one given.
const std::string& last_value(const Values& values);

// The converter of a text option: its value, as given, into `Field` of the CleanupConfig or the
// CliSettings.
template <auto Field>
void text_into(const Values& values, Settings& out) {
  if constexpr (requires { out.config.*Field; }) {
    out.config.*Field = last_value(values);
  } else {
    out.cli.*Field = last_value(values);
  }
}

// true | false, and the other spellings a CLI11 flag accepts ("1", "yes", "off"...).
bool flag_value(const Values& values, const char* flag);

std::int64_t integer_value(const Values& values, const char* flag);
// An int option: a value beyond an int is kept just outside `range`, for validate_config() to
// refuse naming the option.
int small_integer_value(const Values& values, const IntRange& range);

double real_value(const Values& values, const char* flag);

// A duration; a bare number is in `bare` units.
std::chrono::milliseconds duration_value(const Values& values, BareUnit bare);

// --max-deletes: a whole number of rows, 0 or more.
std::int64_t max_deletes_value(const std::string& text);

// --max-fraction: greater than 0 and at most 1.
double max_fraction_value(const std::string& text);

// An age for --expire-after / --min-age: a duration with a unit, at least one second.
std::chrono::milliseconds age_value(const std::string& text, const char* flag);
// A duration with a unit, zero allowed ("0", "0s", "15m"), for --expired-for.
std::chrono::milliseconds expiry_grace_value(const std::string& text, const char* flag);

// --email-normalization and --batch-strategy by name.
EmailNormalization normalization_value(const std::string& text);
BatchStrategy strategy_value(const std::string& text);

// One value per line of the file at `path`; blank lines and comments ('#' at the start of a
// line or after a space or tab) are skipped; spaces and tabs trimmed.
std::vector<std::string> read_list_file(const std::string& path, const char* flag);

}  // namespace batch_cleanup::config
