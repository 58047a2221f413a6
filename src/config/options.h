// The options of option_table() (option_spec.h) on a CLI11 app, and the one parse of the
// command line and the environment: each value is read as raw text with its source (a flag or
// an environment variable), checked as its flag checks it, and converted once by its spec.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "batch_cleanup/config.h"
#include "config/cli_app_fwd.h"
#include "config/option_spec.h"

namespace batch_cleanup::config {

// What declare_options() leaves on the app: CLI11's storage of the raw texts (the values are
// read from each option's results) and where finish_options() puts the process-wide settings.
struct OptionTexts {
  const CLI::App* app = nullptr;
  CliSettings* cli = nullptr;  // null: only the options of a job were declared
  std::map<std::string, std::string, std::less<>> texts;
  std::map<std::string, std::vector<std::string>, std::less<>> lists;
  std::map<std::string, bool, std::less<>> flags;
};

// Declares the options of option_table() on `app`: those of a job, and with `cli` non-null the
// process-wide ones too. CLI11 checks each flag's type, range and choices; it does not read the
// environment (read_environment() does; --help still names each variable). `config` and `cli`
// receive the values when finish_options() runs.
void declare_options(CLI::App& app, CleanupConfig& config, OptionTexts& texts, CliSettings* cli);

// Converts the values given to the app declare_options() filled (flags, then the environment)
// into `config` (and texts.cli), and validates the result. Throws ConfigError.
void finish_options(const OptionTexts& texts, CleanupConfig& config);

// The option's value from its environment variable (a list split at ','); empty when the
// variable is unset or empty. Throws ConfigError naming the variable for a value its flag
// would refuse.
std::vector<std::string> read_environment(const OptionSpec& spec);

// Checks one raw text as the flag does (type, range, choices): "" when it passes, else CLI11's
// message, prefixed with the flag ("--batch-size: Value 0 not in range 1 to 1000000").
std::string check_value(const OptionSpec& spec, const std::string& value);

// The value type as --help shows it: "INT:INT in [1 - 1000000]", "TEXT:{text,json}"; empty for
// a flag.
std::string value_type(const OptionSpec& spec);

// The accepted values of an option that takes one of a set, by long name without dashes.
// Empty: the option takes any value.
const std::vector<std::string>& option_choices(std::string_view long_name);

// Sets config.match_email and match_phone from --match TEXT: "email", "phone", "email,phone"
// (any order; a policy named twice counts once) or "none". Throws ConfigError otherwise.
void parse_match(const std::string& text, CleanupConfig& config);

// What --match TEXT means, written once: "email,email" -> "email", "phone,email" ->
// "email,phone" (`config` shows it so). Text that is not a valid --match is returned as it is.
std::string normalized_match(const std::string& text);

// Policy 'expired' in words, for logs, explain and the dry run: "created_at is more than 7d
// ago", "expires_at passed more than 1h ago" (or "expires_at has passed" with 0), both joined by
// " or " when both are on; empty when the policy is off.
std::string describe_expiry(const CleanupConfig& config);

// An --exclude-domain value without its leading '@' ("@example.com" -> "example.com").
std::string normalized_exclude_domain(const std::string& value);

}  // namespace batch_cleanup::config
