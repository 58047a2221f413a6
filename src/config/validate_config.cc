// validate_config(): a finished configuration checked as a whole (names, URL, every option's
// range and enumeration, combinations of options), whether it came from the command line, the
// environment, a file or the library. It is the one check the library path runs
// (BatchCleanupService's constructor): every range the command line's parser enforces is
// enforced here too, naming the option as it is typed (--workers).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>

#include "batch_cleanup/config.h"
#include "batch_cleanup/errors.h"
#include "config/condition.h"
#include "config/database_url.h"
#include "config/identifier.h"
#include "config/option_ranges.h"

namespace batch_cleanup {
namespace {

// A list value without the spaces and tabs around it.
std::string store_text(const std::string& value) {
  const auto first = value.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return value.substr(first, value.find_last_not_of(" \t\r\n") - first + 1);
}

// Refuses `value` outside the option's range: "invalid --FLAG VALUE: use LO..HI<tail>".
void check_range(std::int64_t value, const config::IntRange& range, const char* tail = "") {
  if (value < range.lo || value > range.hi) {
    throw ConfigError(
        fmt::format("invalid {} {}: use {}..{}{}", range.flag, value, range.lo, range.hi, tail));
  }
}

// An optional age (0: off): otherwise at least one second, as the flags accept.
void check_optional_age(std::chrono::milliseconds age, const char* flag) {
  if (age.count() < 0) {
    throw ConfigError(fmt::format("invalid {}: must not be negative (0 = off)", flag));
  }
  if (age.count() > 0 && age.count() < 1000) {
    throw ConfigError(
        fmt::format("invalid {} {}ms: must be at least 1s (0 = off)", flag, age.count()));
  }
}

// The ranges and enumerations the command line's parser checks (CLI::Range, CLI::IsMember in
// options.cc) and the conversions of finish_options(), for a configuration built in C++.
void check_option_ranges(const CleanupConfig& config) {
  check_range(config.batch_size, config::kBatchSizeRange);
  check_range(config.workers, config::kWorkersRange, ". HINT: SQLite accepts only 1");
  check_range(config.retries, config::kRetriesRange);
  check_range(config.sample_size, config::kSampleSizeRange);
  check_range(config.sqlite_cache_mb, config::kSqliteCacheMbRange, " (MiB; 0 = SQLite's default)");
  check_range(config.max_replication_lag_bytes, config::kMaxReplicationLagBytesRange,
              " (0 = no limit)");
  const auto& rate = config::kMaxRateRange;
  if (!(config.max_rate >= rate.lo && config.max_rate <= rate.hi)) {  // also refuses NaN
    throw ConfigError(
        fmt::format("invalid {} {}: use {:.0f}..{:.0f} rows per second (0 = no limit)", rate.flag,
                    config.max_rate, rate.lo, rate.hi));
  }
  switch (config.normalize_email) {
    case EmailNormalization::kNone:
    case EmailNormalization::kLower:
    case EmailNormalization::kLowerTrim:
    case EmailNormalization::kCollation:
      break;
    default:
      throw ConfigError(
          fmt::format("invalid --normalize-email {}: use none, lower, lower-trim or collation",
                      static_cast<int>(config.normalize_email)));
  }
  switch (config.batch_strategy) {
    case BatchStrategy::kAuto:
    case BatchStrategy::kPhysical:
    case BatchStrategy::kKey:
    case BatchStrategy::kEmail:
      break;
    default:
      throw ConfigError(fmt::format("invalid --batch-strategy {}: use auto, physical, key or email",
                                    static_cast<int>(config.batch_strategy)));
  }
  if (config.sleep_between_batches.count() < 0) {
    throw ConfigError("invalid --sleep: must not be negative (0 = no pause)");
  }
  if (config.max_replication_lag.count() < 0) {
    throw ConfigError("invalid --max-replication-lag: must not be negative (0 = no limit)");
  }
  check_optional_age(config.expire_after, "--expire-after");
  check_optional_age(config.min_age, "--min-age");
  check_optional_age(config.archive_retention, "--archive-retention");
}

}  // namespace

void validate_config(const CleanupConfig& config) {
  const auto& job = config.job_name;
  if (job.empty() || job.size() > 64 ||
      job.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
          std::string::npos) {
    throw ConfigError("invalid job name '" + job +
                      "': use 1 to 64 letters, digits, '_', '.' or '-'");
  }
  config::parse_table_name(config.users_table, "users table");
  config::parse_table_name(config.pending_table, "pending table");
  config::validate_identifier(config.pending_key, "pending key");
  config::validate_identifier(config.email_column, "email column");
  config::parse_table_name(config.history_table, "history table");
  config::parse_table_name(config.lease_table, "lease table");
  if (config.lease_ttl < std::chrono::seconds(2)) {
    throw ConfigError("invalid --lease-ttl: must be at least 2s");
  }
  const auto resolved = config.database_url.empty() ? std::string() : config.database_url;
  if (!resolved.empty()) config::parse_database_url(resolved);
  check_option_ranges(config);
  if (config.interval.count() < 1000) {
    throw ConfigError("invalid interval: must be at least 1s");
  }
  if (config.lock_timeout.count() < 1) {
    throw ConfigError("invalid --lock-timeout: must be positive");
  }
  if (config.statement_timeout.count() < 1) {
    throw ConfigError("invalid --statement-timeout: must be positive");
  }
  if (config.connect_timeout.count() < 1000) {
    throw ConfigError("invalid connect timeout: must be at least 1s");
  }
  if (config.progress_interval.count() < 100)
    throw ConfigError("invalid progress interval: at least 100ms");
  if (config.batch_time.count() != 0 && config.batch_time.count() < 5) {
    throw ConfigError("invalid --batch-time: at least 5ms (or 0 for a fixed batch size)");
  }
  if (!(config.max_fraction >= 0 && config.max_fraction <= 1))  // also refuses NaN
    throw ConfigError(
        fmt::format("invalid --max-fraction {}: use a number greater than 0 and at most 1 (0 = no "
                    "limit)",
                    config.max_fraction));
  if (!config.archive_table.empty()) {
    const auto archive = config::parse_table_name(config.archive_table, "archive table");
    for (const auto* other : {&config.users_table, &config.pending_table}) {
      const auto name = config::parse_table_name(*other, "table");
      if (name.name == archive.name && name.schema == archive.schema) {
        throw ConfigError("invalid --archive-table '" + config.archive_table +
                          "': it names the users or pending table; use a table of its own");
      }
    }
  }
  if (config.match_phone) config::validate_identifier(config.phone_column, "phone column");
  if (config.expire_after.count() > 0 || config.min_age.count() > 0 || config.expired_for) {
    if (config.expire_after.count() > 0 || config.min_age.count() > 0) {
      config::validate_identifier(config.created_column, "created column");
    }
    const auto& zone = config.created_time_zone;
    if (zone.empty() || zone.size() > 64 ||
        zone.find_first_not_of(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-:.") !=
            std::string::npos) {
      throw ConfigError("invalid --created-time-zone '" + zone +
                        "': give a zone name such as UTC or Europe/Paris");
    }
  }
  if (config.expired_for) {
    config::validate_identifier(config.expires_column, "expires column");
    if (config.expired_for->count() < 0) {
      throw ConfigError("invalid --expired-for: it cannot be negative");
    }
  }
  for (const auto& condition : config.conditions) config::parse_condition(condition);
  if (!config.match_email && !config.match_phone && !config.expiry_policy()) {
    throw ConfigError(
        "no deletion policy: --match none needs --expire-after or --expired-for (or match email "
        "and/or phone)");
  }
  // An exemption that can never match fails open (its row is deleted): refuse it instead.
  for (const auto& value : config.exclude_emails) {
    const auto email = store_text(value);
    if (email.empty() || email.find('@') == std::string::npos ||
        email.find_first_of(" \t\r\n") != std::string::npos) {
      throw ConfigError("invalid --exclude-email '" + value +
                        "': give one whole address such as ceo@example.com (for a whole domain "
                        "use --exclude-domain; comments in a list file start with '#' after a "
                        "space)");
    }
  }
  for (const auto& value : config.exclude_domains) {
    auto domain = store_text(value);
    if (!domain.empty() && domain.front() == '@') domain.erase(0, 1);
    const bool valid = !domain.empty() && std::all_of(domain.begin(), domain.end(), [](char c) {
      const auto byte = static_cast<unsigned char>(c);
      return byte >= 0x80 || std::isalnum(byte) != 0 || c == '.' || c == '-' || c == '_';
    });
    if (!valid) {
      throw ConfigError("invalid --exclude-domain '" + value +
                        "': give a domain such as example.com: letters, digits, '.', '-' (no "
                        "'@' inside, no wildcard: list each subdomain)");
    }
  }
  if (config.archive_retention.count() > 0 && config.archive_table.empty())
    throw ConfigError("--archive-retention needs --archive-table");
}

}  // namespace batch_cleanup
