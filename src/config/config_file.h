// The configuration file (--config FILE, TOML) and the layering of every option's value:
// command-line flag, then environment variable, then the file (a [[job]] table, then its top
// level), then the option's default.
//
// The file's keys are the long option names of declare_options() without the dashes
// ("batch-size", or "batch_size"); values are strings, integers, floats, booleans, or arrays for
// options that take several values. Every value goes through the same CLI11 conversion and
// checks as the flag, so the file accepts exactly what the command line accepts. A file may
// declare several jobs ([[job]] tables with a unique `name`); top-level keys are defaults for
// every job. Process-wide options (those declare_options() adds only with a CliSettings, such as
// --log-level or --http-listen) are accepted only at the top level.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "batch_cleanup/config.h"
#include "config/options.h"

namespace batch_cleanup::config {

// One `key = value` of the file, not yet checked against the options.
struct FileEntry {
  std::string key;                  // as written
  std::vector<std::string> values;  // one text per value (arrays: one per element)
  bool array = false;
  int line = 0;
};

struct FileJob {
  std::string name;
  int line = 0;  // the line of its `name`
  std::vector<FileEntry> entries;
};

struct ConfigFile {
  std::string path;
  std::vector<FileEntry> top;  // top-level keys
  std::vector<FileJob> jobs;   // empty: the file has no [[job]] tables
};

// Parses TOML text (syntax, value types, job names). Throws ConfigError "PATH:LINE: ...".
ConfigFile parse_config_file(std::string_view text, const std::string& path);

// Reads and parses a file. Throws ConfigError when it cannot be read or parsed.
ConfigFile read_config_file(const std::string& path);

// An option value given on the command line or by its environment variable, as CLI11 read it.
struct GivenOption {
  std::string key;  // long name without dashes
  std::vector<std::string> values;
  std::string env;  // the environment variable it came from; empty: a flag
};

// The options of `app` (the parsed main command) that have a value from a flag or from their
// environment variable.
std::vector<GivenOption> given_options(const CLI::App& app);

// What the configuration file makes of an option of declare_options().
struct FileKeyRule {
  bool key = false;           // false: not a key of the file (--config, --help, --version)
  bool process_wide = false;  // only at the top level, not in a [[job]] table
  bool array = false;         // takes several values: an array
};

// The rule for `option`, found by its long name (the key: the name without dashes).
FileKeyRule file_key_rule(const CLI::Option& option);

// Where a value came from.
struct ValueSource {
  enum class Kind { kDefault, kFlag, kEnv, kFile };
  Kind kind = Kind::kDefault;
  std::string detail;  // kEnv: the variable; kFile: "PATH:LINE"

  // "default", "flag", "env NAME", "file PATH:LINE".
  std::string text() const;
};

// One option's effective value, for `batch_cleanup config`.
struct Setting {
  std::string key;
  std::string value;  // secrets redacted (see redact_setting())
  ValueSource source;
};

struct ResolvedJob {
  std::string name;
  CleanupConfig config;  // finished and validated; config.job_name == name
  std::vector<Setting> settings;
};

struct ResolvedConfig {
  std::string config_path;  // empty: no file
  // The jobs come from [[job]] tables (they are named in logs, metrics and reports); false: one
  // implicit job named "default".
  bool named_jobs = false;
  CliSettings cli;
  std::vector<Setting> process_settings;
  std::vector<ResolvedJob> jobs;  // never empty, in file order
  // For the log: a flag or environment variable overriding a value a [[job]] table sets.
  std::vector<std::string> warnings;
};

// Layers `given` over the file at `config_path` (none when empty) over the defaults, for every
// job. The exemption lists (exclude-email, exclude-domain and their -file forms) are the
// exception: every layer's values are combined, so that no layer can drop another's exemptions.
// Throws ConfigError naming the file, line and key of a bad entry.
ResolvedConfig resolve_config(const std::vector<GivenOption>& given,
                              const std::string& config_path);

// The value as safe to print: the password of a database URL and the value of any key containing
// "password" are replaced by ***.
std::string redact_setting(const std::string& key, const std::string& value);

}  // namespace batch_cleanup::config
