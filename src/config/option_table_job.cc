// The options of a job in option_table() (option_spec.h): database, tables, policies, batching,
// timeouts, guards, locking and archives. A [[job]] table of the configuration file may set
// each of them.
#include "batch_cleanup/errors.h"
#include "config/option_convert.h"
#include "config/option_table_parts.h"
#include "config/options.h"

// Each entry names only the fields that differ from OptionSpec's defaults (designated
// initializers); GCC would warn about every field left out.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace batch_cleanup::config {
namespace {

// A converter that appends the values read from each list file.
void append_files(const Values& paths, std::vector<std::string>& into, const char* flag) {
  for (const auto& path : paths) {
    for (auto& value : read_list_file(path, flag)) into.push_back(std::move(value));
  }
}

}  // namespace

std::vector<OptionSpec> job_options() {
  constexpr unsigned kRunning = kRunCommand | kConfigCommand;
  return {
      {.name = "interval",
       .env = "BATCH_CLEANUP_INTERVAL",
       .default_text = "1",
       .help = "Daemon interval: hours as a number (1, 0.5) or a duration (90s, 15m, 2h)",
       .convert = [](const Values& v,
                     Settings& s) { s.config.interval = duration_value(v, BareUnit::kHours); }},
      {.name = "dry-run",
       .kind = ValueKind::kFlag,
       .commands = kRunning,
       .env = "BATCH_CLEANUP_DRY_RUN",
       .help = "Count and show what would be deleted; write nothing",
       .convert = [](const Values& v,
                     Settings& s) { s.config.dry_run = flag_value(v, "--dry-run"); }},
      {.name = "database-url",
       .env = "DATABASE_URL",
       .help = "postgresql://..., postgres://..., libpq key=value, sqlite:PATH, "
               "sqlite:///ABS/PATH, mysql://user:pass@host:port/db or mariadb://... "
               "(?ssl-mode=, ?socket=, ?charset=)",
       .convert = text_into<&CleanupConfig::database_url>},
      {.name = "users-table",
       .env = "BATCH_CLEANUP_USERS_TABLE",
       .default_text = "core_mstr_one_qlick_users_tbl",
       .help = "Main users table (schema.table allowed)",
       .convert = text_into<&CleanupConfig::users_table>},
      {.name = "pending-table",
       .env = "BATCH_CLEANUP_PENDING_TABLE",
       .default_text = "core_mstr_one_qlick_pending_users_tbl",
       .help = "Pending sign-ups table (schema.table allowed)",
       .convert = text_into<&CleanupConfig::pending_table>},
      {.name = "pending-key",
       .env = "BATCH_CLEANUP_PENDING_KEY",
       .default_text = "pending_user_id",
       .help = "Unique key column of the pending table",
       .convert = text_into<&CleanupConfig::pending_key>},
      {.name = "email-column",
       .env = "BATCH_CLEANUP_EMAIL_COLUMN",
       .default_text = "email",
       .help = "Email column, in both tables",
       .convert = text_into<&CleanupConfig::email_column>},
      {.name = "match",
       .commands = kRunning | kExplainCommand,
       .env = "BATCH_CLEANUP_MATCH",
       .default_text = "email",
       .help = "Deletion policies matching users: email, phone, email,phone, or none (with "
               "--expire-after: expiry only); a policy named twice counts once",
       .convert = [](const Values& v, Settings& s) { parse_match(last_value(v), s.config); }},
      {.name = "normalize-email",
       .commands = kRunning | kExplainCommand,
       .env = "BATCH_CLEANUP_NORMALIZE_EMAIL",
       .default_text = "none",
       .help = "Compare emails byte for byte (none), lowercased (lower), lowercased and trimmed "
               "(lower-trim), or by the columns' own collation or type, such as citext, SQLite "
               "NOCASE or a MySQL _ci collation (collation); the same expression on both tables",
       .choices = {"none", "lower", "lower-trim", "collation"},
       .convert =
           [](const Values& v, Settings& s) {
             s.config.normalize_email = normalization_value(last_value(v));
           }},
      {.name = "phone-column",
       .commands = kRunning | kExplainCommand,
       .env = "BATCH_CLEANUP_PHONE_COLUMN",
       .default_text = "phone",
       .help = "Phone column, in both tables (for --match phone)",
       .convert = text_into<&CleanupConfig::phone_column>},
      {.name = "expire-after",
       .commands = kRunning | kExplainCommand,
       .env = "BATCH_CLEANUP_EXPIRE_AFTER",
       .help = "Also delete pending rows created more than this long ago (e.g. 7d), whether or "
               "not a user matches (default: off)",
       .convert =
           [](const Values& v, Settings& s) {
             if (!last_value(v).empty()) {
               s.config.expire_after = age_value(last_value(v), "--expire-after");
             }
           }},
      {.name = "created-column",
       .commands = kRunning | kExplainCommand,
       .env = "BATCH_CLEANUP_CREATED_COLUMN",
       .default_text = "created_at",
       .help = "Column of the pending table holding each row's creation time (the time the "
               "sign-up was made, which the application does not renew); --expire-after and "
               "--min-age measure from it",
       .convert = text_into<&CleanupConfig::created_column>},
      {.name = "expired-for",
       .commands = kRunning | kExplainCommand,
       .env = "BATCH_CLEANUP_EXPIRED_FOR",
       .help = "Also delete pending rows whose --expires-column time passed more than this long "
               "ago (e.g. 1h; 0 = as soon as it passed), whether or not a user matches; a NULL "
               "expiry never matches (default: off)",
       .convert =
           [](const Values& v, Settings& s) {
             if (!last_value(v).empty()) {
               s.config.expired_for = expiry_grace_value(last_value(v), "--expired-for");
             }
           }},
      {.name = "expires-column",
       .commands = kRunning | kExplainCommand,
       .env = "BATCH_CLEANUP_EXPIRES_COLUMN",
       .default_text = "expires_at",
       .help = "Column of the pending table holding the application's own expiry time (a token "
               "that may be renewed in place), for --expired-for; read in --created-time-zone "
               "when stored without a zone",
       .convert = text_into<&CleanupConfig::expires_column>},
      {.name = "created-time-zone",
       .commands = kRunning | kExplainCommand,
       .env = "BATCH_CLEANUP_CREATED_TIME_ZONE",
       .default_text = "UTC",
       .help = "Zone of --created-column, --expires-column and --where time values stored "
               "without one (PostgreSQL timestamp or date), e.g. Europe/Paris; SQLite reads them "
               "as UTC",
       .convert = text_into<&CleanupConfig::created_time_zone>},
      {.name = "min-age",
       .commands = kRunning | kExplainCommand,
       .env = "BATCH_CLEANUP_MIN_AGE",
       .help = "Never delete a row created less than this long ago (e.g. 15m; by "
               "--created-column, also with --expired-for), whatever the policy; checked inside "
               "the DELETE (default: off)",
       .convert =
           [](const Values& v, Settings& s) {
             if (!last_value(v).empty()) s.config.min_age = age_value(last_value(v), "--min-age");
           }},
      {.name = "where",
       .kind = ValueKind::kRepeated,
       .commands = kRunning | kExplainCommand,
       .env = "BATCH_CLEANUP_WHERE",
       .help = "A condition the application keeps, e.g. \"is_verified = false\" or "
               "\"otp_locked_until IS NULL OR otp_locked_until < now()\": a row failing it is "
               "never deleted, whatever the policy; checked inside every DELETE. Comparisons (= "
               "<> != < <= > >=) of a pending column with 'text', a number, true/false or now() "
               "[- interval '15 minutes'], IS [NOT] NULL, [NOT] IN (...), NOT, AND, OR, "
               "parentheses; repeatable (all must hold)",
       .convert =
           [](const Values& v, Settings& s) {
             s.config.conditions.insert(s.config.conditions.end(), v.begin(), v.end());
           }},
      {.name = "exclude-email",
       .kind = ValueKind::kList,
       .commands = kRunning | kExplainCommand,
       .env = "BATCH_CLEANUP_EXCLUDE_EMAIL",
       .help = "Never delete the pending row with this email (case-insensitive, trimmed); "
               "repeatable, or comma-separated",
       .convert =
           [](const Values& v, Settings& s) {
             s.config.exclude_emails.insert(s.config.exclude_emails.end(), v.begin(), v.end());
           }},
      {.name = "exclude-domain",
       .kind = ValueKind::kList,
       .commands = kRunning | kExplainCommand,
       .env = "BATCH_CLEANUP_EXCLUDE_DOMAIN",
       .help = "Never delete pending rows whose email is in this domain (the part after the last "
               "'@'; case-insensitive, exact: subdomains are not included; a leading '@' is "
               "dropped); repeatable, or comma-separated",
       .convert =
           [](const Values& v, Settings& s) {
             for (const auto& domain : v) {
               s.config.exclude_domains.push_back(normalized_exclude_domain(domain));
             }
           }},
      {.name = "exclude-email-file",
       .kind = ValueKind::kList,
       .commands = kRunning | kExplainCommand,
       .env = "BATCH_CLEANUP_EXCLUDE_EMAIL_FILE",
       .help = "Read --exclude-email values from this file, one per line ('#' comments); "
               "repeatable",
       .convert =
           [](const Values& v, Settings& s) {
             append_files(v, s.config.exclude_emails, "--exclude-email-file");
           }},
      {.name = "exclude-domain-file",
       .kind = ValueKind::kList,
       .commands = kRunning | kExplainCommand,
       .env = "BATCH_CLEANUP_EXCLUDE_DOMAIN_FILE",
       .help = "Read --exclude-domain values from this file, one per line ('#' comments); "
               "repeatable",
       .convert =
           [](const Values& v, Settings& s) {
             append_files(v, s.config.exclude_domains, "--exclude-domain-file");
           }},
      {.name = "batch-size",
       .kind = ValueKind::kInteger,
       .env = "BATCH_CLEANUP_BATCH_SIZE",
       .default_text = "5000",
       .help = "Matching rows per batch transaction (1..1000000)",
       .int_range = kBatchSizeRange,
       .convert = [](const Values& v,
                     Settings& s) { s.config.batch_size = integer_value(v, "--batch-size"); }},
      {.name = "batch-strategy",
       .env = "BATCH_CLEANUP_BATCH_STRATEGY",
       .default_text = "auto",
       .help = "auto, physical (PostgreSQL ctid ranges), key (keyset over the pending email's "
               "unique index where it can, else --pending-key) or email (PostgreSQL: ranges of "
               "the email order, joined with the same range of users)",
       .choices = {"auto", "physical", "key", "email"},
       .convert = [](const Values& v,
                     Settings& s) { s.config.batch_strategy = strategy_value(last_value(v)); }},
      {.name = "workers",
       .kind = ValueKind::kInteger,
       .env = "BATCH_CLEANUP_WORKERS",
       .default_text = "1",
       .help = "PostgreSQL and MySQL/MariaDB: run batches on this many connections at once, "
               "each over its own part of the table (1..64); SQLite accepts only 1",
       .int_range = kWorkersRange,
       .convert = [](const Values& v,
                     Settings& s) { s.config.workers = small_integer_value(v, kWorkersRange); }},
      {.name = "batch-time",
       .env = "BATCH_CLEANUP_BATCH_TIME",
       .default_text = "0",
       .help = "Target time per batch (e.g. 50ms): the batch size adapts to it; 0 = fixed "
               "--batch-size",
       .convert =
           [](const Values& v, Settings& s) {
             s.config.batch_time = duration_value(v, BareUnit::kMilliseconds);
           }},
      {.name = "sleep",
       .env = "BATCH_CLEANUP_SLEEP",
       .default_text = "0",
       .help = "Pause between batches (e.g. 100ms); bare number = ms",
       .convert =
           [](const Values& v, Settings& s) {
             s.config.sleep_between_batches = duration_value(v, BareUnit::kMilliseconds);
           }},
      {.name = "max-rate",
       .kind = ValueKind::kReal,
       .env = "BATCH_CLEANUP_MAX_RATE",
       .default_text = "0",
       .help = "At most this many deleted rows per second; 0 = no limit",
       .real_range = kMaxRateRange,
       .convert = [](const Values& v,
                     Settings& s) { s.config.max_rate = real_value(v, "--max-rate"); }},
      {.name = "lock-timeout",
       .env = "BATCH_CLEANUP_LOCK_TIMEOUT",
       .default_text = "2s",  // shown; unless set, a lower server setting applies
       .help = "Longest wait for a lock (PostgreSQL lock_timeout; SQLite busy timeout); bare "
               "number = ms. Unless set, a lower lock_timeout of the role or database applies",
       .convert =
           [](const Values& v, Settings& s) {
             if (last_value(v).empty()) return;
             s.config.lock_timeout = duration_value(v, BareUnit::kMilliseconds);
             s.config.lock_timeout_set = true;
           }},
      {.name = "statement-timeout",
       .env = "BATCH_CLEANUP_STATEMENT_TIMEOUT",
       .default_text = "30s",  // shown; unless set, a lower server setting applies
       .help = "Longest statement (PostgreSQL statement_timeout); bare number = ms. Unless set, "
               "a lower statement_timeout of the role or database applies",
       .convert =
           [](const Values& v, Settings& s) {
             if (last_value(v).empty()) return;
             s.config.statement_timeout = duration_value(v, BareUnit::kMilliseconds);
             s.config.statement_timeout_set = true;
           }},
      {.name = "sqlite-cache-mb",
       .kind = ValueKind::kInteger,
       .env = "BATCH_CLEANUP_SQLITE_CACHE_MB",
       .default_text = "0",
       .help = "SQLite: page cache of the tool's own connection in MiB (0..4096; 0 = SQLite's "
               "default, 2 MiB): a batch's index pages are then written once per commit, at the "
               "cost of this much memory; the database file is not changed",
       .int_range = kSqliteCacheMbRange,
       .convert =
           [](const Values& v, Settings& s) {
             s.config.sqlite_cache_mb = integer_value(v, "--sqlite-cache-mb");
           }},
      {.name = "connect-timeout",
       .env = "BATCH_CLEANUP_CONNECT_TIMEOUT",
       .default_text = "3s",
       .help = "Per connection attempt; bare number = s",
       .convert =
           [](const Values& v, Settings& s) {
             s.config.connect_timeout = duration_value(v, BareUnit::kSeconds);
           }},
      {.name = "retries",
       .kind = ValueKind::kInteger,
       .env = "BATCH_CLEANUP_RETRIES",
       .default_text = "5",
       .help = "Retries of a connection or transient batch failure, with exponential backoff "
               "(0..20)",
       .int_range = kRetriesRange,
       .convert = [](const Values& v,
                     Settings& s) { s.config.retries = small_integer_value(v, kRetriesRange); }},
      {.name = "sample-size",
       .kind = ValueKind::kInteger,
       .commands = kRunning | kExplainCommand,
       .env = "BATCH_CLEANUP_SAMPLE_SIZE",
       .default_text = "10",
       .help = "Candidate rows a dry run lists (0..1000)",
       .int_range = kSampleSizeRange,
       .convert = [](const Values& v,
                     Settings& s) { s.config.sample_size = integer_value(v, "--sample-size"); }},
      {.name = "progress-interval",
       .commands = kRunning,
       .env = "BATCH_CLEANUP_PROGRESS_INTERVAL",
       .default_text = "10s",
       .help = "Progress log line period in long cycles",
       .convert =
           [](const Values& v, Settings& s) {
             s.config.progress_interval = duration_value(v, BareUnit::kSeconds);
           }},
      {.name = "log-pii",
       .kind = ValueKind::kFlag,
       .env = "BATCH_CLEANUP_LOG_PII",
       .help = "Show emails unmasked in logs and reports (otherwise anything that looks like an "
               "address is masked, in the database's own messages too)",
       .convert = [](const Values& v,
                     Settings& s) { s.config.log_pii = flag_value(v, "--log-pii"); }},
      {.name = "history-table",
       .commands = kRunning | kHistoryCommand,
       .env = "BATCH_CLEANUP_HISTORY_TABLE",
       .default_text = "batch_cleanup_runs",
       .help = "Run history table, one row per non-dry cycle, created on first use (schema.table "
               "allowed)",
       .convert = text_into<&CleanupConfig::history_table>},
      {.name = "no-history",
       .kind = ValueKind::kFlag,
       .commands = kRunning,
       .env = "BATCH_CLEANUP_NO_HISTORY",
       .help = "Do not record cycles in the history table",
       .convert =
           [](const Values& v, Settings& s) {
             if (flag_value(v, "--no-history")) s.config.record_history = false;
           }},
      {.name = "max-deletes",
       .commands = kRunning,
       .env = "BATCH_CLEANUP_MAX_DELETES",
       .help = "Guard: refuse a cycle that would delete more than N rows (default: no limit)",
       .convert =
           [](const Values& v, Settings& s) {
             if (!last_value(v).empty()) s.config.max_deletes = max_deletes_value(last_value(v));
           }},
      {.name = "max-fraction",
       .commands = kRunning,
       .env = "BATCH_CLEANUP_MAX_FRACTION",
       .help = "Guard: refuse a cycle that would delete more than this share (0..1] of the "
               "pending table (default: no limit)",
       .convert =
           [](const Values& v, Settings& s) {
             if (!last_value(v).empty()) s.config.max_fraction = max_fraction_value(last_value(v));
           }},
      {.name = "guards-count",
       .commands = kRunning,
       .env = "BATCH_CLEANUP_GUARDS_COUNT",
       .default_text = "pending",
       .help = "What --max-deletes and --max-fraction count: the pending rows a cycle would "
               "delete (pending), or also the rows of the tables whose foreign keys reference "
               "them that it would delete (CASCADE) or change (SET NULL, SET DEFAULT) (all); "
               "with all, --max-fraction also applies to each of those tables",
       .choices = {"pending", "all"},
       .convert =
           [](const Values& v, Settings& s) {
             const std::string text = last_value(v);
             if (text.empty()) return;
             if (text != "pending" && text != "all") {
               throw ConfigError("invalid --guards-count '" + text + "': use pending or all");
             }
             s.config.guards_count_dependents = text == "all";
           }},
      {.name = "allow-empty-users",
       .kind = ValueKind::kFlag,
       .commands = kRunning,
       .env = "BATCH_CLEANUP_ALLOW_EMPTY_USERS",
       .help = "Override guard 'users-not-empty': run even when the users table is empty",
       .convert =
           [](const Values& v, Settings& s) {
             s.config.allow_empty_users = flag_value(v, "--allow-empty-users");
           }},
      {.name = "allow-unverified-users-table",
       .kind = ValueKind::kFlag,
       .commands = kRunning,
       .env = "BATCH_CLEANUP_ALLOW_UNVERIFIED_USERS_TABLE",
       .help = "Override guard 'distinct-tables' where it cannot follow what the users table "
               "reads (a foreign table, a view calling a user-defined function): you vouch it "
               "does not read the pending table",
       .convert =
           [](const Values& v, Settings& s) {
             s.config.allow_unverified_users_table =
                 flag_value(v, "--allow-unverified-users-table");
           }},
      {.name = "wait-lock",
       .kind = ValueKind::kFlag,
       .commands = kRunning,
       .env = "BATCH_CLEANUP_WAIT_LOCK",
       .help = "Wait for the instance lock instead of skipping the cycle (--run-once: exit 4) "
               "when another instance holds it; a daemon with it takes the lock cycle by cycle "
               "instead of leading",
       .convert = [](const Values& v,
                     Settings& s) { s.config.wait_lock = flag_value(v, "--wait-lock"); }},
      {.name = "lease-table",
       .commands = kRunning,
       .env = "BATCH_CLEANUP_LEASE_TABLE",
       .default_text = "batch_cleanup_leases",
       .help = "PostgreSQL: the table of the one-active-instance leases (schema.table allowed; "
               "created on first use; see README 'Connection poolers and HA')",
       .convert = text_into<&CleanupConfig::lease_table>},
      {.name = "lease-ttl",
       .commands = kRunning,
       .env = "BATCH_CLEANUP_LEASE_TTL",
       .default_text = "20s",
       .help = "PostgreSQL: how long a lease outlives its holder's last heartbeat (renewed every "
               "batch and every half of it); another instance may take over after it, or at once "
               "when the holder is provably dead. A standby daemon looks every third of it",
       .convert = [](const Values& v,
                     Settings& s) { s.config.lease_ttl = duration_value(v, BareUnit::kSeconds); }},
      {.name = "archive-table",
       .commands = kRunning | kRestoreCommand,
       .env = "BATCH_CLEANUP_ARCHIVE_TABLE",
       .help = "Insert every deleted row into this table, in the same transaction (created on "
               "first use); the rows an ON DELETE CASCADE deletes with them too, into "
               "<table>__<child table>",
       .convert = text_into<&CleanupConfig::archive_table>},
      {.name = "max-replication-lag",
       .commands = kRunning,
       .env = "BATCH_CLEANUP_MAX_REPLICATION_LAG",
       .help = "Pause between batches while a streaming standby (PostgreSQL) or a --replica-url "
               "(MySQL/MariaDB) has not replayed the cycle's last commit for longer than this "
               "(e.g. 10s); bare number = s. MariaDB Galera (any value): pause while flow "
               "control holds the cluster",
       .convert =
           [](const Values& v, Settings& s) {
             const auto& text = last_value(v);
             if (text.empty()) return;
             s.config.max_replication_lag = duration_value(v, BareUnit::kSeconds);
             if (s.config.max_replication_lag.count() < 1) {
               throw ConfigError("invalid --max-replication-lag '" + text + "': must be positive");
             }
           }},
      {.name = "replica-url",
       .kind = ValueKind::kList,
       .commands = kRunning,
       .env = "BATCH_CLEANUP_REPLICA_URL",
       .help = "MySQL/MariaDB: a replica (mysql:// URL) whose lag --max-replication-lag watches: "
               "between batches, wait while it has not applied the cycle's last commit "
               "(MASTER_GTID_WAIT); repeatable",
       .convert =
           [](const Values& v, Settings& s) {
             for (const auto& url : v) s.config.replica_urls.push_back(url);
           }},
      {.name = "max-replication-lag-bytes",
       .kind = ValueKind::kInteger,
       .commands = kRunning,
       .env = "BATCH_CLEANUP_MAX_REPLICATION_LAG_BYTES",
       .default_text = "0",
       .help = "PostgreSQL: pause between batches while a streaming standby is more than this "
               "many bytes of WAL behind the cycle's last commit; 0 = no limit",
       .int_range = kMaxReplicationLagBytesRange,
       .convert =
           [](const Values& v, Settings& s) {
             s.config.max_replication_lag_bytes = integer_value(v, "--max-replication-lag-bytes");
           }},
      {.name = "archive-file",
       .commands = kRunning,
       .env = "BATCH_CLEANUP_ARCHIVE_FILE",
       .help = "Append every deleted row as a JSON line to this file, fsynced before its batch "
               "commits (created with mode 0600; its directory must exist)",
       .convert = text_into<&CleanupConfig::archive_file>},
      {.name = "archive-retention",
       .commands = kRunning,
       .env = "BATCH_CLEANUP_ARCHIVE_RETENTION",
       .help = "Purge archive rows older than this (e.g. 30d) at the end of each cycle (default: "
               "keep)",
       .convert =
           [](const Values& v, Settings& s) {
             const auto& text = last_value(v);
             if (text.empty()) return;
             s.config.archive_retention = duration_value(v, BareUnit::kHours);
             if (s.config.archive_retention.count() < 1000) {
               throw ConfigError("invalid --archive-retention '" + text + "': must be at least 1s");
             }
           }},
  };
}

}  // namespace batch_cleanup::config
