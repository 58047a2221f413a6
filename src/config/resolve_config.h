// The layering of every option's value, for every job: command-line flag, then environment
// variable, then the configuration file (a [[job]] table, then its top level), then the option's
// default. Each value is kept as the raw text it was given, with its source, and converted once
// by its spec's converter (config/option_spec.h); a file value is checked as its flag checks it
// (check_value()), so the file accepts exactly what the command line accepts. Process-wide
// options (Scope::kProcess, such as --log-level or --http-listen) are accepted only at the top
// level of the file.
#pragma once

#include <string>
#include <vector>

#include "batch_cleanup/config.h"
#include "config/cli_app_fwd.h"
#include "config/config_file.h"
#include "config/options.h"

namespace batch_cleanup::config {

// An option value given on the command line or by its environment variable, as given.
struct GivenOption {
  std::string key;  // long name without dashes
  std::vector<std::string> values;
  std::string env;  // the environment variable it came from; empty: a flag
};

// The options of `app` (the parsed main command, declared by declare_options()) that have a
// value from a flag, and the other options of option_table() that have one from their
// environment variable. Throws ConfigError for an environment value its flag would refuse.
std::vector<GivenOption> given_options(const CLI::App& app);

// The process-wide settings of `given` alone, over the defaults (what the logs are configured
// with before the configuration file is read). Throws ConfigError.
CliSettings given_cli_settings(const std::vector<GivenOption>& given);

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
// Throws ConfigError naming the file, line and key of a bad entry (unknown key, a process-wide
// key in a [[job]] table, an array for a single value, a key set twice, a job name used twice,
// a value its flag would refuse).
ResolvedConfig resolve_config(const std::vector<GivenOption>& given,
                              const std::string& config_path);

// The value as safe to print: the password of a database URL and the value of any key containing
// "password" are replaced by ***.
std::string redact_setting(const std::string& key, const std::string& value);

}  // namespace batch_cleanup::config
