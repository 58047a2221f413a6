// Configuration of one cleanup job. Plain data: copy it freely.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace batch_cleanup {

// How batches address their rows on PostgreSQL.
//   kAuto: physical order (ctid block ranges) on plain tables, key order elsewhere.
//   kPhysical: always ctid block ranges (rejected for partitioned tables).
//   kKey: keyset batches ordered by the pending key column.
enum class BatchStrategy { kAuto, kPhysical, kKey };

struct CleanupConfig {
  // postgresql://..., postgres://..., a libpq "key=value" string, sqlite:PATH or
  // sqlite:///ABS/PATH. Empty means "take DATABASE_URL from the environment".
  std::string database_url;

  // Identifiers; "schema.table" is accepted for the tables. Validated, then quoted.
  std::string users_table = "core_mstr_one_qlick_users_tbl";
  std::string pending_table = "core_mstr_one_qlick_pending_users_tbl";
  std::string pending_key = "pending_user_id";
  std::string email_column = "email";

  // Target number of matching rows per batch transaction (1 .. 1,000,000). With batch_time set,
  // the starting size, adapted after every batch.
  std::int64_t batch_size = 5000;
  // Target duration of one batch transaction; 0 keeps batch_size fixed. The batch size adapts
  // to the server so that batches take about this long (like pt-archiver's chunk time).
  std::chrono::milliseconds batch_time{0};
  // Pause between two batches (throttling); 0 = none.
  std::chrono::milliseconds sleep_between_batches{0};
  // Upper bound on deleted rows per second, enforced by pausing between batches; 0 = none.
  double max_rate = 0;
  BatchStrategy batch_strategy = BatchStrategy::kAuto;

  // Count and sample the candidates; write nothing at all.
  bool dry_run = false;
  // How many candidate keys a dry run lists.
  std::int64_t sample_size = 10;

  // Per-session limits (PostgreSQL lock_timeout / statement_timeout; SQLite busy_timeout).
  std::chrono::milliseconds lock_timeout{2000};
  std::chrono::milliseconds statement_timeout{30000};
  std::chrono::milliseconds connect_timeout{3000};

  // Connection attempts after the first one, with exponential backoff and full jitter.
  int retries = 5;
  std::chrono::milliseconds retry_base_delay{500};
  std::chrono::milliseconds retry_max_delay{8000};

  // Daemon interval between the starts of two cycles.
  std::chrono::milliseconds interval{std::chrono::hours(1)};

  // Print emails in logs and reports unmasked.
  bool log_pii = false;

  // How often a long cycle logs a progress line.
  std::chrono::milliseconds progress_interval{10000};

  // Run history: every non-dry cycle appends one row to `history_table` (created on first use;
  // "schema.table" allowed). Writing it is best effort: a failure is logged as a warning and
  // never fails the cycle. Dry runs never write it.
  bool record_history = true;
  std::string history_table = "batch_cleanup_runs";
};

// Fills a config from the environment the way the original did: DATABASE_URL, plus the
// BATCH_CLEANUP_* variables documented in the README. Unset variables keep defaults.
// Throws ConfigError on a malformed value.
CleanupConfig config_from_environment();

// Validates every field (identifiers, ranges, URL scheme). Throws ConfigError naming the
// offending setting. Does not touch the database.
void validate_config(const CleanupConfig& config);

}  // namespace batch_cleanup
