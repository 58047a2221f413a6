// Every option of the command line, declared once as plain data: an OptionSpec. The CLI11
// options (options.h), the environment variables, the configuration file's keys
// (resolve_config.h), --help, the man pages and the shell completions (cli/docs_model.h) are all
// made from option_table(); each raw text is converted once, by its spec's converter, into a
// CleanupConfig or a CliSettings. The ranges are the ones validate_config() checks too.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "batch_cleanup/config.h"
#include "config/option_ranges.h"

namespace batch_cleanup::config {

// Settings of the command line that are not part of a CleanupConfig.
struct CliSettings {
  bool run_once = false;
  bool daemon = false;
  std::string output = "text";  // text | json
  std::string log_level = "info";
  std::string log_file;
  std::string log_format = "text";  // text | json
  // HOST:PORT for the status/metrics HTTP server; empty: no server.
  std::string http_listen;
  // exporter-toolkit web configuration (TLS, basic auth) for that server; empty: none.
  std::string web_config_file;
  // /readyz and /healthz answer 503 after this many consecutive failed cycles.
  std::int64_t unhealthy_after = 3;
  // node_exporter textfile-collector file rewritten after every cycle; empty: none.
  std::string metrics_file;
  // Prometheus Pushgateway base URL the metrics are pushed to after every cycle; empty: none.
  std::string push_metrics;
  // Print a per-phase timing table after every cycle.
  bool statistics = false;
  // The live progress bar on stderr: "auto" (when stderr is a terminal), "always", "never".
  std::string progress_bar = "auto";
  // The TOML configuration file (config/config_file.h, config/resolve_config.h); empty: none.
  std::string config_file;

  bool operator==(const CliSettings&) const = default;
};

// What the options of one job (and of the process) convert into.
struct Settings {
  CleanupConfig config;
  CliSettings cli;
};

enum class ValueKind {
  kFlag,      // no value on the command line; true | false in the file
  kText,      // one value
  kInteger,   // one whole number, within `int_range`
  kReal,      // one real number, within `real_range`
  kList,      // repeatable, or comma-separated; an array in the file
  kRepeated,  // repeatable, never split (a value may hold commas); a string or array in the file
};

enum class Scope {
  kProcess,  // the whole process: only at the top level of the file
  kJob,      // per job: also in a [[job]] table
};

// The commands that use an option (a bit mask).
enum Command : unsigned {
  kRunCommand = 1U << 0,  // --run-once, --daemon
  kConfigCommand = 1U << 1,
  kExplainCommand = 1U << 2,
  kHistoryCommand = 1U << 3,
  kRestoreCommand = 1U << 4,
};
inline constexpr unsigned kEveryCommand =
    kRunCommand | kConfigCommand | kExplainCommand | kHistoryCommand | kRestoreCommand;

// Converts the option's raw texts (one per value; never empty) into `out`. Throws ConfigError
// for a text it cannot read.
using Converter = void (*)(const std::vector<std::string>& values, Settings& out);

struct OptionSpec {
  std::string_view name;  // long name without dashes: the flag --NAME and the file key NAME
  char short_name = '\0';
  ValueKind kind = ValueKind::kText;
  Scope scope = Scope::kJob;
  unsigned commands = kEveryCommand;
  std::string_view env;           // its environment variable; empty: none
  std::string_view default_text;  // as --help shows it; empty: none shown
  std::string_view help;
  std::vector<std::string> choices;  // the accepted values; empty: any
  std::optional<IntRange> int_range;
  std::optional<RealRange> real_range;
  std::string_view excludes;  // the long name of an option it cannot be given with
  bool file_key = true;       // false: not a key of the configuration file (--config)
  Converter convert = nullptr;
};

// Every option, in --help order: the process-wide ones, then those of a job.
const std::vector<OptionSpec>& option_table();

// The spec named `name` (long name without dashes); null when there is none.
const OptionSpec* find_option(std::string_view name);

// The exemption lists (exclude-email, exclude-domain and their -file forms): every layer's
// values are combined rather than overridden, so that no layer can drop another's exemptions.
bool combines_layers(const OptionSpec& spec);

}  // namespace batch_cleanup::config
