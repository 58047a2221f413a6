// The process-wide options of option_table() (option_spec.h): the mode, the output, the logs,
// the HTTP server and the metrics. They hold for every job, so the configuration file accepts
// them only at its top level.
#include "config/option_convert.h"
#include "config/option_table_parts.h"

// Each entry names only the fields that differ from OptionSpec's defaults (designated
// initializers); GCC would warn about every field left out.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace batch_cleanup::config {

std::vector<OptionSpec> process_options() {
  constexpr unsigned kLogs = kEveryCommand;
  constexpr unsigned kRunning = kRunCommand | kConfigCommand;
  return {
      {.name = "run-once",
       .kind = ValueKind::kFlag,
       .scope = Scope::kProcess,
       .commands = kRunning,
       .help = "Run one cleanup cycle, then exit",
       .excludes = "daemon",
       .convert = [](const Values& v,
                     Settings& s) { s.cli.run_once = flag_value(v, "--run-once"); }},
      {.name = "daemon",
       .kind = ValueKind::kFlag,
       .scope = Scope::kProcess,
       .commands = kRunning,
       .help = "Run a cycle every --interval until SIGINT/SIGTERM",
       .excludes = "run-once",
       .convert = [](const Values& v, Settings& s) { s.cli.daemon = flag_value(v, "--daemon"); }},
      {.name = "output",
       .scope = Scope::kProcess,
       .env = "BATCH_CLEANUP_OUTPUT",
       .default_text = "text",
       .help = "Report format on stdout: text or json (one object per cycle)",
       .choices = {"text", "json"},
       .convert = text_into<&CliSettings::output>},
      {.name = "log-level",
       .scope = Scope::kProcess,
       .commands = kLogs,
       .env = "LOG_LEVEL",
       .default_text = "info",
       .help = "trace, debug, info, warning or error",
       .convert = text_into<&CliSettings::log_level>},
      {.name = "log-file",
       .scope = Scope::kProcess,
       .commands = kLogs,
       .env = "BATCH_CLEANUP_LOG_FILE",
       .help = "Also append logs to this file (created with mode 0600; its directory must exist)",
       .convert = text_into<&CliSettings::log_file>},
      {.name = "log-format",
       .scope = Scope::kProcess,
       .commands = kLogs,
       .env = "BATCH_CLEANUP_LOG_FORMAT",
       .default_text = "text",
       .help = "Log line format: text, or json (one object per line: ts, level, msg, cycle_id, "
               "counts)",
       .choices = {"text", "json"},
       .convert = text_into<&CliSettings::log_format>},
      {.name = "http-listen",
       .scope = Scope::kProcess,
       .commands = kRunning,
       .env = "BATCH_CLEANUP_HTTP_LISTEN",
       .help = "Serve /livez, /readyz, /healthz, /metrics, /status, /history.json and a status "
               "page on HOST:PORT (e.g. 127.0.0.1:9187; port 0 picks a free one); off by default",
       .convert = text_into<&CliSettings::http_listen>},
      {.name = "web-config-file",
       .scope = Scope::kProcess,
       .commands = kRunning,
       .env = "BATCH_CLEANUP_WEB_CONFIG_FILE",
       .help = "TLS and basic authentication for --http-listen: a YAML file in the format of "
               "Prometheus's exporter-toolkit (tls_server_config, basic_auth_users with bcrypt "
               "hashes), as node_exporter's --web.config.file",
       .convert = text_into<&CliSettings::web_config_file>},
      {.name = "metrics-file",
       .scope = Scope::kProcess,
       .commands = kRunning,
       .env = "BATCH_CLEANUP_METRICS_FILE",
       .help = "After every cycle, write the metrics to this file for node_exporter's textfile "
               "collector (atomically: a temporary file renamed over it; created with mode 0600, "
               "an existing file keeps its mode; its directory must exist), e.g. "
               "/var/lib/prometheus/node-exporter/batch_cleanup.prom",
       .convert = text_into<&CliSettings::metrics_file>},
      {.name = "push-metrics",
       .scope = Scope::kProcess,
       .commands = kRunning,
       .env = "BATCH_CLEANUP_PUSH_METRICS",
       .help = "After every cycle, push the metrics to this Prometheus Pushgateway (e.g. "
               "http://pushgateway:9091; http://user:password@host sends basic auth, never "
               "printed), grouped by job=batch_cleanup, instance=<host> and cleanup_job for a "
               "configuration file's jobs",
       .convert = text_into<&CliSettings::push_metrics>},
      {.name = "unhealthy-after",
       .kind = ValueKind::kInteger,
       .scope = Scope::kProcess,
       .commands = kRunning,
       .env = "BATCH_CLEANUP_UNHEALTHY_AFTER",
       .default_text = "3",
       .help = "/readyz and /healthz answer 503 after this many consecutive failed cycles "
               "(1..1000)",
       .int_range = kUnhealthyAfterRange,
       .convert =
           [](const Values& v, Settings& s) {
             s.cli.unhealthy_after = integer_value(v, "--unhealthy-after");
           }},
      {.name = "statistics",
       .kind = ValueKind::kFlag,
       .scope = Scope::kProcess,
       .commands = kRunning,
       .env = "BATCH_CLEANUP_STATISTICS",
       .help = "Print a per-phase timing table (find, delete, commit, archive, wait) after every "
               "non-dry cycle, on stderr",
       .convert = [](const Values& v,
                     Settings& s) { s.cli.statistics = flag_value(v, "--statistics"); }},
      {.name = "progress-bar",
       .scope = Scope::kProcess,
       .commands = kRunning,
       .env = "BATCH_CLEANUP_PROGRESS_BAR",
       .default_text = "auto",
       .help = "Live progress bar on stderr: auto (when stderr is a terminal), always, never",
       .choices = {"auto", "always", "never"},
       .convert = text_into<&CliSettings::progress_bar>},
      {.name = "config",
       .scope = Scope::kProcess,
       .env = "BATCH_CLEANUP_CONFIG",
       .help = "TOML configuration file: the same keys as the flags, and [[job]] tables for "
               "several jobs; flags and environment variables win over it",
       .file_key = false,  // a file cannot name another one
       .convert = text_into<&CliSettings::config_file>},
  };
}

}  // namespace batch_cleanup::config
