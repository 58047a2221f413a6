// The option table as CLI11 holds it after declare_options(): what the configuration file, the
// layering (resolve_config.h) and the documentation read from it. A value of the file is checked
// by parsing `--key=value` on a throwaway app (OptionSet), so that it goes through exactly the
// conversion and checks of its flag.
#pragma once

#include <CLI/CLI.hpp>
#include <set>
#include <string>
#include <vector>

#include "batch_cleanup/config.h"
#include "config/options.h"

namespace batch_cleanup::config {

// The option's first long name without dashes ("batch-size"); empty when it has none.
std::string long_name(const CLI::Option& option);

// True for a flag (takes no value).
bool is_flag(const CLI::Option& option);

// True for an option that takes several values (repeatable, or a delimited list).
bool takes_several(const CLI::Option& option);

// True when the option's environment variable is set to a non-empty value.
bool env_set(const CLI::Option& option);

// A CLI11 app with every option declared, storing into its own config. Not copyable (the app
// holds pointers into the object).
struct OptionSet {
  // `with_cli`: also the process-wide options (those of a CliSettings). `with_env`: false
  // clears every option's environment variable, so that only the given arguments count.
  explicit OptionSet(bool with_cli, bool with_env = true);
  OptionSet(const OptionSet&) = delete;
  OptionSet& operator=(const OptionSet&) = delete;

  // Parses `--key=value` arguments. Throws CLI::ParseError.
  void parse(std::vector<std::string> args);

  CLI::App app{"batch_cleanup"};
  CleanupConfig config;
  OptionTexts texts;
  CliSettings cli;
};

// Appends `--key=value` for each value (an empty value as two arguments, "--key" "", so that
// CLI11 does not take the next argument as the value).
void append_args(std::vector<std::string>& args, const std::string& key,
                 const std::vector<std::string>& values);

// The long names of declare_options(): all of them, those a [[job]] table accepts (the
// cleanup options, without the process-wide ones), those that take several values, and the
// flags (booleans). Built once; thread-safe.
struct KnownOptions {
  std::set<std::string> all_options;
  std::set<std::string> job_options;
  std::set<std::string> several;
  std::set<std::string> flags;
};
const KnownOptions& known_options();

// What the configuration file makes of an option of declare_options().
struct FileKeyRule {
  bool key = false;           // false: not a key of the file (--config, --help, --version)
  bool process_wide = false;  // only at the top level, not in a [[job]] table
  bool array = false;         // takes several values: an array
};

// The rule for `option`, found by its long name (the key: the name without dashes).
FileKeyRule file_key_rule(const CLI::Option& option);

}  // namespace batch_cleanup::config
