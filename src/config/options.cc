#include "config/options.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "batch_cleanup/errors.h"
#include "config/database_url.h"
#include "config/duration.h"
#include "config/identifier.h"
#include "config/option_ranges.h"

namespace batch_cleanup::config {
namespace {

struct Choices {
  std::string_view option;
  std::vector<std::string> values;
};

const std::vector<Choices>& choice_table() {
  static const std::vector<Choices> table = {
      {"output", {"text", "json"}},
      {"log-format", {"text", "json"}},
      {"progress-bar", {"auto", "always", "never"}},
      {"normalize-email", {"none", "lower", "lower-trim", "collation"}},
      {"batch-strategy", {"auto", "physical", "key", "email"}},
  };
  return table;
}

// CLI11's range checks, from the declared ranges (config/option_ranges.h).
CLI::Range range(const IntRange& r) { return CLI::Range(r.lo, r.hi); }
CLI::Range range(const RealRange& r) { return CLI::Range(r.lo, r.hi); }

// CLI11's membership check for `option`, from its declared choices.
CLI::IsMember one_of(std::string_view option) { return CLI::IsMember(option_choices(option)); }

}  // namespace

const std::vector<std::string>& option_choices(std::string_view long_name) {
  static const std::vector<std::string> any;
  for (const auto& entry : choice_table()) {
    if (entry.option == long_name) return entry.values;
  }
  return any;
}

void declare_options(CLI::App& app, CleanupConfig& config, OptionTexts& texts, CliSettings* cli) {
  if (cli != nullptr) {
    auto* once = app.add_flag("--run-once", cli->run_once, "Run one cleanup cycle, then exit");
    auto* daemon =
        app.add_flag("--daemon", cli->daemon, "Run a cycle every --interval until SIGINT/SIGTERM");
    once->excludes(daemon);
    app.add_option("--output", cli->output,
                   "Report format on stdout: text or json (one object per cycle)")
        ->check(one_of("output"))
        ->envname("BATCH_CLEANUP_OUTPUT")
        ->capture_default_str();
    app.add_option("--log-level", cli->log_level, "trace, debug, info, warning or error")
        ->envname("LOG_LEVEL")
        ->capture_default_str();
    app.add_option("--log-file", cli->log_file,
                   "Also append logs to this file (created with mode 0600; its directory must "
                   "exist)")
        ->envname("BATCH_CLEANUP_LOG_FILE");
    app.add_option("--log-format", cli->log_format,
                   "Log line format: text, or json (one object per line: ts, level, msg, "
                   "cycle_id, counts)")
        ->check(one_of("log-format"))
        ->envname("BATCH_CLEANUP_LOG_FORMAT")
        ->capture_default_str();
    app.add_option("--http-listen", cli->http_listen,
                   "Serve /livez, /readyz, /healthz, /metrics, /status, /history.json and a "
                   "status page on HOST:PORT (e.g. 127.0.0.1:9187; port 0 picks a free one); off "
                   "by default")
        ->envname("BATCH_CLEANUP_HTTP_LISTEN");
    app.add_option("--web-config-file", cli->web_config_file,
                   "TLS and basic authentication for --http-listen: a YAML file in the format of "
                   "Prometheus's exporter-toolkit (tls_server_config, basic_auth_users with "
                   "bcrypt hashes), as node_exporter's --web.config.file")
        ->envname("BATCH_CLEANUP_WEB_CONFIG_FILE");
    app.add_option("--metrics-file", cli->metrics_file,
                   "After every cycle, write the metrics to this file for node_exporter's "
                   "textfile collector (atomically: a temporary file renamed over it; created "
                   "with mode 0600, an existing file keeps its mode; its directory must exist), "
                   "e.g. /var/lib/prometheus/node-exporter/batch_cleanup.prom")
        ->envname("BATCH_CLEANUP_METRICS_FILE");
    app.add_option("--push-metrics", cli->push_metrics,
                   "After every cycle, push the metrics to this Prometheus Pushgateway (e.g. "
                   "http://pushgateway:9091; http://user:password@host sends basic auth, never "
                   "printed), grouped by job=batch_cleanup, instance=<host> and cleanup_job for "
                   "a configuration file's jobs")
        ->envname("BATCH_CLEANUP_PUSH_METRICS");
    app.add_option("--unhealthy-after", cli->unhealthy_after,
                   "/readyz and /healthz answer 503 after this many consecutive failed cycles "
                   "(1..1000)")
        ->envname("BATCH_CLEANUP_UNHEALTHY_AFTER")
        ->check(range(kUnhealthyAfterRange))
        ->capture_default_str();
    app.add_flag("--statistics", cli->statistics,
                 "Print a per-phase timing table (find, delete, commit, archive, wait) after "
                 "every non-dry cycle, on stderr")
        ->envname("BATCH_CLEANUP_STATISTICS");
    app.add_option("--progress-bar", cli->progress_bar,
                   "Live progress bar on stderr: auto (when stderr is a terminal), always, never")
        ->check(one_of("progress-bar"))
        ->envname("BATCH_CLEANUP_PROGRESS_BAR")
        ->capture_default_str();
    app.add_option("--config", cli->config_file,
                   "TOML configuration file: the same keys as the flags, and [[job]] tables for "
                   "several jobs; flags and environment variables win over it")
        ->envname("BATCH_CLEANUP_CONFIG");
  }
  app.add_option("--interval", texts.interval,
                 "Daemon interval: hours as a number (1, 0.5) or a duration (90s, 15m, 2h)")
      ->envname("BATCH_CLEANUP_INTERVAL")
      ->capture_default_str();
  app.add_flag("--dry-run", config.dry_run, "Count and show what would be deleted; write nothing")
      ->envname("BATCH_CLEANUP_DRY_RUN");
  app.add_option(
         "--database-url", config.database_url,
         "postgresql://..., postgres://..., libpq key=value, sqlite:PATH, sqlite:///ABS/PATH, "
         "mysql://user:pass@host:port/db or mariadb://... (?ssl-mode=, ?socket=, ?charset=)")
      ->envname("DATABASE_URL");
  app.add_option("--users-table", config.users_table, "Main users table (schema.table allowed)")
      ->envname("BATCH_CLEANUP_USERS_TABLE")
      ->capture_default_str();
  app.add_option("--pending-table", config.pending_table,
                 "Pending sign-ups table (schema.table allowed)")
      ->envname("BATCH_CLEANUP_PENDING_TABLE")
      ->capture_default_str();
  app.add_option("--pending-key", config.pending_key, "Unique key column of the pending table")
      ->envname("BATCH_CLEANUP_PENDING_KEY")
      ->capture_default_str();
  app.add_option("--email-column", config.email_column, "Email column, in both tables")
      ->envname("BATCH_CLEANUP_EMAIL_COLUMN")
      ->capture_default_str();
  app.add_option("--match", texts.match,
                 "Deletion policies matching users: email, phone, email,phone, or none (with "
                 "--expire-after: expiry only); a policy named twice counts once")
      ->envname("BATCH_CLEANUP_MATCH")
      ->capture_default_str();
  app.add_option("--normalize-email", texts.normalize_email,
                 "Compare emails byte for byte (none), lowercased (lower), lowercased and trimmed "
                 "(lower-trim), or by the columns' own collation or type, such as citext or "
                 "SQLite NOCASE (collation); the same expression on both tables")
      ->envname("BATCH_CLEANUP_NORMALIZE_EMAIL")
      ->check(one_of("normalize-email"))
      ->capture_default_str();
  app.add_option("--phone-column", config.phone_column,
                 "Phone column, in both tables (for --match phone)")
      ->envname("BATCH_CLEANUP_PHONE_COLUMN")
      ->capture_default_str();
  app.add_option("--expire-after", texts.expire_after,
                 "Also delete pending rows created more than this long ago (e.g. 7d), whether or "
                 "not a user matches (default: off)")
      ->envname("BATCH_CLEANUP_EXPIRE_AFTER");
  app.add_option("--created-column", config.created_column,
                 "Creation time column of the pending table (for --expire-after and --min-age)")
      ->envname("BATCH_CLEANUP_CREATED_COLUMN")
      ->capture_default_str();
  app.add_option("--created-time-zone", config.created_time_zone,
                 "Zone of --created-column values stored without one (PostgreSQL timestamp or "
                 "date), e.g. Europe/Paris; SQLite reads them as UTC")
      ->envname("BATCH_CLEANUP_CREATED_TIME_ZONE")
      ->capture_default_str();
  app.add_option("--min-age", texts.min_age,
                 "Never delete a row created less than this long ago (e.g. 15m), whatever the "
                 "policy; checked inside the DELETE (default: off)")
      ->envname("BATCH_CLEANUP_MIN_AGE");
  app.add_option("--exclude-email", config.exclude_emails,
                 "Never delete the pending row with this email (case-insensitive, trimmed); "
                 "repeatable, or comma-separated")
      ->envname("BATCH_CLEANUP_EXCLUDE_EMAIL")
      ->delimiter(',');
  app.add_option("--exclude-domain", config.exclude_domains,
                 "Never delete pending rows whose email is in this domain (the part after the "
                 "last '@'; case-insensitive, exact: subdomains are not included; a leading '@' "
                 "is dropped); repeatable, or comma-separated")
      ->envname("BATCH_CLEANUP_EXCLUDE_DOMAIN")
      ->delimiter(',');
  app.add_option("--exclude-email-file", texts.exclude_email_files,
                 "Read --exclude-email values from this file, one per line ('#' comments); "
                 "repeatable")
      ->envname("BATCH_CLEANUP_EXCLUDE_EMAIL_FILE")
      ->delimiter(',');
  app.add_option("--exclude-domain-file", texts.exclude_domain_files,
                 "Read --exclude-domain values from this file, one per line ('#' comments); "
                 "repeatable")
      ->envname("BATCH_CLEANUP_EXCLUDE_DOMAIN_FILE")
      ->delimiter(',');
  app.add_option("--batch-size", config.batch_size,
                 "Matching rows per batch transaction (1..1000000)")
      ->envname("BATCH_CLEANUP_BATCH_SIZE")
      ->check(range(kBatchSizeRange))
      ->capture_default_str();
  app.add_option(
         "--batch-strategy", texts.batch_strategy,
         "auto, physical (PostgreSQL ctid ranges), key (keyset over the pending email's unique "
         "index where it can, else --pending-key) or email (PostgreSQL: ranges of the email "
         "order, joined with the same range of users)")
      ->envname("BATCH_CLEANUP_BATCH_STRATEGY")
      ->check(one_of("batch-strategy"))
      ->capture_default_str();
  app.add_option("--workers", config.workers,
                 "PostgreSQL: run batches on this many connections at once, each over its own "
                 "part of the table (1..64); SQLite accepts only 1")
      ->envname("BATCH_CLEANUP_WORKERS")
      ->check(range(kWorkersRange))
      ->capture_default_str();
  app.add_option(
         "--batch-time", texts.batch_time,
         "Target time per batch (e.g. 50ms): the batch size adapts to it; 0 = fixed --batch-size")
      ->envname("BATCH_CLEANUP_BATCH_TIME")
      ->capture_default_str();
  app.add_option("--sleep", texts.sleep, "Pause between batches (e.g. 100ms); bare number = ms")
      ->envname("BATCH_CLEANUP_SLEEP")
      ->capture_default_str();
  app.add_option("--max-rate", config.max_rate,
                 "At most this many deleted rows per second; 0 = no limit")
      ->envname("BATCH_CLEANUP_MAX_RATE")
      ->check(range(kMaxRateRange))
      ->capture_default_str();
  app.add_option("--lock-timeout", texts.lock_timeout,
                 "Longest wait for a lock (PostgreSQL lock_timeout; SQLite busy timeout); bare "
                 "number = ms. Unless set, a lower lock_timeout of the role or database applies")
      ->envname("BATCH_CLEANUP_LOCK_TIMEOUT")
      ->default_str("2s");
  app.add_option("--statement-timeout", texts.statement_timeout,
                 "Longest statement (PostgreSQL statement_timeout); bare number = ms. Unless "
                 "set, a lower statement_timeout of the role or database applies")
      ->envname("BATCH_CLEANUP_STATEMENT_TIMEOUT")
      ->default_str("30s");
  app.add_option("--sqlite-cache-mb", config.sqlite_cache_mb,
                 "SQLite: page cache of the tool's own connection in MiB (0..4096; 0 = SQLite's "
                 "default, 2 MiB): a batch's index pages are then written once per commit, at "
                 "the cost of this much memory; the database file is not changed")
      ->envname("BATCH_CLEANUP_SQLITE_CACHE_MB")
      ->check(range(kSqliteCacheMbRange))
      ->capture_default_str();
  app.add_option("--connect-timeout", texts.connect_timeout,
                 "Per connection attempt; bare number = s")
      ->envname("BATCH_CLEANUP_CONNECT_TIMEOUT")
      ->capture_default_str();
  app.add_option(
         "--retries", config.retries,
         "Retries of a connection or transient batch failure, with exponential backoff (0..20)")
      ->envname("BATCH_CLEANUP_RETRIES")
      ->check(range(kRetriesRange))
      ->capture_default_str();
  app.add_option("--sample-size", config.sample_size, "Candidate rows a dry run lists (0..1000)")
      ->envname("BATCH_CLEANUP_SAMPLE_SIZE")
      ->check(range(kSampleSizeRange))
      ->capture_default_str();
  app.add_option("--progress-interval", texts.progress_interval,
                 "Progress log line period in long cycles")
      ->envname("BATCH_CLEANUP_PROGRESS_INTERVAL")
      ->capture_default_str();
  app.add_flag("--log-pii", config.log_pii,
               "Show emails unmasked in logs and reports (otherwise anything that looks like an "
               "address is masked, in the database's own messages too)")
      ->envname("BATCH_CLEANUP_LOG_PII");
  app.add_option("--history-table", config.history_table,
                 "Run history table, one row per non-dry cycle, created on first use "
                 "(schema.table allowed)")
      ->envname("BATCH_CLEANUP_HISTORY_TABLE")
      ->capture_default_str();
  app.add_flag("--no-history", texts.no_history, "Do not record cycles in the history table")
      ->envname("BATCH_CLEANUP_NO_HISTORY");
  app.add_option("--max-deletes", texts.max_deletes,
                 "Guard: refuse a cycle that would delete more than N rows (default: no limit)")
      ->envname("BATCH_CLEANUP_MAX_DELETES");
  app.add_option("--max-fraction", texts.max_fraction,
                 "Guard: refuse a cycle that would delete more than this share (0..1] of the "
                 "pending table (default: no limit)")
      ->envname("BATCH_CLEANUP_MAX_FRACTION");
  app.add_flag("--allow-empty-users", config.allow_empty_users,
               "Override guard 'users-not-empty': run even when the users table is empty")
      ->envname("BATCH_CLEANUP_ALLOW_EMPTY_USERS");
  app.add_flag("--allow-unverified-users-table", config.allow_unverified_users_table,
               "Override guard 'distinct-tables' where it cannot follow what the users table "
               "reads (a foreign table, a view calling a user-defined function): you vouch it "
               "does not read the pending table")
      ->envname("BATCH_CLEANUP_ALLOW_UNVERIFIED_USERS_TABLE");
  app.add_flag("--wait-lock", config.wait_lock,
               "Wait for the instance lock instead of skipping the cycle (--run-once: exit 4) when "
               "another instance holds it; a daemon with it takes the lock cycle by cycle "
               "instead of leading")
      ->envname("BATCH_CLEANUP_WAIT_LOCK");
  app.add_option("--lease-table", config.lease_table,
                 "PostgreSQL: the table of the one-active-instance leases (schema.table allowed; "
                 "created on first use; see README 'Connection poolers and HA')")
      ->envname("BATCH_CLEANUP_LEASE_TABLE")
      ->capture_default_str();
  app.add_option("--lease-ttl", texts.lease_ttl,
                 "PostgreSQL: how long a lease outlives its holder's last heartbeat (renewed every "
                 "batch and every half of it); another instance may take over after it, or at once "
                 "when the holder is provably dead. A standby daemon looks every third of it")
      ->envname("BATCH_CLEANUP_LEASE_TTL")
      ->capture_default_str();
  app.add_option("--archive-table", config.archive_table,
                 "Insert every deleted row into this table, in the same transaction (created on "
                 "first use)")
      ->envname("BATCH_CLEANUP_ARCHIVE_TABLE");
  app.add_option("--max-replication-lag", texts.max_replication_lag,
                 "PostgreSQL: pause between batches while a streaming standby has not replayed "
                 "the cycle's last commit for longer than this (e.g. 10s); bare number = s")
      ->envname("BATCH_CLEANUP_MAX_REPLICATION_LAG");
  app.add_option("--max-replication-lag-bytes", config.max_replication_lag_bytes,
                 "PostgreSQL: pause between batches while a streaming standby is more than this "
                 "many bytes of WAL behind the cycle's last commit; 0 = no limit")
      ->envname("BATCH_CLEANUP_MAX_REPLICATION_LAG_BYTES")
      ->check(range(kMaxReplicationLagBytesRange))
      ->capture_default_str();
  app.add_option("--archive-file", config.archive_file,
                 "Append every deleted row as a JSON line to this file, fsynced before its batch "
                 "commits (created with mode 0600; its directory must exist)")
      ->envname("BATCH_CLEANUP_ARCHIVE_FILE");
  app.add_option("--archive-retention", texts.archive_retention,
                 "Purge archive rows older than this (e.g. 30d) at the end of each cycle "
                 "(default: keep)")
      ->envname("BATCH_CLEANUP_ARCHIVE_RETENTION");
}

namespace {

std::int64_t parse_max_deletes(const std::string& text) {
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

// An age for --expire-after / --min-age: a duration with a unit, at least one second.
std::chrono::milliseconds parse_age(const std::string& text, const char* flag) {
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

// One value per line; blank lines and comments ('#' at the start of a line or after a space or
// tab) are skipped; spaces and tabs trimmed.
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

double parse_max_fraction(const std::string& text) {
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

}  // namespace

void finish_options(const OptionTexts& texts, CleanupConfig& config) {
  config.interval = parse_duration(texts.interval, BareUnit::kHours);
  if (!texts.lock_timeout.empty()) {
    config.lock_timeout = parse_duration(texts.lock_timeout, BareUnit::kMilliseconds);
    config.lock_timeout_set = true;
  }
  if (!texts.statement_timeout.empty()) {
    config.statement_timeout = parse_duration(texts.statement_timeout, BareUnit::kMilliseconds);
    config.statement_timeout_set = true;
  }
  config.connect_timeout = parse_duration(texts.connect_timeout, BareUnit::kSeconds);
  config.lease_ttl = parse_duration(texts.lease_ttl, BareUnit::kSeconds);
  config.progress_interval = parse_duration(texts.progress_interval, BareUnit::kSeconds);
  config.batch_time = parse_duration(texts.batch_time, BareUnit::kMilliseconds);
  config.sleep_between_batches = parse_duration(texts.sleep, BareUnit::kMilliseconds);
  if (texts.no_history) config.record_history = false;
  if (!texts.max_deletes.empty()) config.max_deletes = parse_max_deletes(texts.max_deletes);
  if (!texts.max_fraction.empty()) config.max_fraction = parse_max_fraction(texts.max_fraction);
  if (!texts.max_replication_lag.empty()) {
    config.max_replication_lag = parse_duration(texts.max_replication_lag, BareUnit::kSeconds);
    if (config.max_replication_lag.count() < 1) {
      throw ConfigError("invalid --max-replication-lag '" + texts.max_replication_lag +
                        "': must be positive");
    }
  }
  if (!texts.archive_retention.empty()) {
    config.archive_retention = parse_duration(texts.archive_retention, BareUnit::kHours);
    if (config.archive_retention.count() < 1000) {
      throw ConfigError("invalid --archive-retention '" + texts.archive_retention +
                        "': must be at least 1s");
    }
  }
  if (!texts.expire_after.empty()) {
    config.expire_after = parse_age(texts.expire_after, "--expire-after");
  }
  if (!texts.min_age.empty()) config.min_age = parse_age(texts.min_age, "--min-age");
  if (texts.normalize_email == "none") {
    config.normalize_email = EmailNormalization::kNone;
  } else if (texts.normalize_email == "lower") {
    config.normalize_email = EmailNormalization::kLower;
  } else if (texts.normalize_email == "lower-trim") {
    config.normalize_email = EmailNormalization::kLowerTrim;
  } else if (texts.normalize_email == "collation") {
    config.normalize_email = EmailNormalization::kCollation;
  } else {
    throw ConfigError("invalid --normalize-email '" + texts.normalize_email +
                      "': use none, lower, lower-trim or collation");
  }
  parse_match(texts.match, config);
  for (auto& domain : config.exclude_domains) domain = normalized_exclude_domain(domain);
  for (const auto& path : texts.exclude_email_files) {
    for (auto& value : read_list_file(path, "--exclude-email-file")) {
      config.exclude_emails.push_back(std::move(value));
    }
  }
  for (const auto& path : texts.exclude_domain_files) {
    for (auto& value : read_list_file(path, "--exclude-domain-file")) {
      config.exclude_domains.push_back(std::move(value));
    }
  }
  if (texts.batch_strategy == "physical") {
    config.batch_strategy = BatchStrategy::kPhysical;
  } else if (texts.batch_strategy == "key") {
    config.batch_strategy = BatchStrategy::kKey;
  } else if (texts.batch_strategy == "email") {
    config.batch_strategy = BatchStrategy::kEmail;
  } else if (texts.batch_strategy == "auto") {
    config.batch_strategy = BatchStrategy::kAuto;
  } else {
    throw ConfigError("invalid --batch-strategy '" + texts.batch_strategy +
                      "': use auto, physical, key or email");
  }
  validate_config(config);
}

}  // namespace batch_cleanup::config

namespace batch_cleanup {

CleanupConfig config_from_environment() {
  CLI::App app{"batch_cleanup"};
  CleanupConfig config;
  config::OptionTexts texts;
  config::declare_options(app, config, texts, nullptr);
  try {
    const char* no_args[] = {"batch_cleanup"};
    app.parse(1, no_args);
  } catch (const CLI::ParseError& e) {
    throw ConfigError(std::string("invalid environment setting: ") + e.what());
  }
  config::finish_options(texts, config);
  return config;
}

}  // namespace batch_cleanup
