// Every option, declared once: flag, environment variable, default, help and validation.
// The CLI, config_from_environment() and --help all come from declare_options().
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "batch_cleanup/config.h"

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
};

// Raw option text that needs parsing after CLI11 is done (durations, enums).
struct OptionTexts {
  std::string interval = "1";
  std::string lock_timeout;       // empty: not set (the default, or a lower server setting)
  std::string statement_timeout;  // empty: not set
  std::string connect_timeout = "3s";
  std::string lease_ttl = "20s";
  std::string progress_interval = "10s";
  std::string batch_strategy = "auto";
  std::string batch_time = "0";
  std::string sleep = "0";
  bool no_history = false;
  std::string max_deletes;          // empty: no limit
  std::string max_fraction;         // empty: no limit
  std::string archive_retention;    // empty: keep forever
  std::string max_replication_lag;  // empty: no throttling
  std::string normalize_email = "none";
  std::string match = "email";
  std::string expire_after;  // empty: no expiry
  std::string min_age;       // empty: no in-flight protection
  std::vector<std::string> exclude_email_files;
  std::vector<std::string> exclude_domain_files;
};

// Declares the cleanup options (tables, batching, timeouts, database, privacy) on `app`,
// storing into `config` and `texts`. With `cli` non-null, also the mode, output and logging
// options of the command line.
void declare_options(CLI::App& app, CleanupConfig& config, OptionTexts& texts, CliSettings* cli);

// The accepted values of an option of declare_options() that takes one of a set, as declared
// (its CLI11 membership check is made from the same list; the man pages and the completions list
// it), by long name without dashes. Empty: the option takes any value.
const std::vector<std::string>& option_choices(std::string_view long_name);

// Converts `texts` into `config` and validates the result. Throws ConfigError.
void finish_options(const OptionTexts& texts, CleanupConfig& config);

// Sets config.match_email and match_phone from --match TEXT: "email", "phone", "email,phone"
// (any order; a policy named twice counts once) or "none". Throws ConfigError otherwise.
void parse_match(const std::string& text, CleanupConfig& config);

// What --match TEXT means, written once: "email,email" -> "email", "phone,email" ->
// "email,phone" (`config` shows it so). Text that is not a valid --match is returned as it is.
std::string normalized_match(const std::string& text);

// An --exclude-domain value without its leading '@' ("@example.com" -> "example.com").
std::string normalized_exclude_domain(const std::string& value);

}  // namespace batch_cleanup::config
