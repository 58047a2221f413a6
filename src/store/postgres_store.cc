#include "store/postgres_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "batch_cleanup/errors.h"
#include "config/identifier.h"
#include "log/logger.h"
#include "store/pg_session.h"

namespace batch_cleanup::store {
namespace {

using Params = std::vector<std::optional<std::string>>;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Columns of the history table, in the order record_run() binds and recent_runs() reads them.
constexpr const char* kHistoryColumns =
    "cycle_id, started_at, finished_at, host, mode, candidates, deleted, failed, skipped, "
    "batches, duration_ms, outcome, error, job";

constexpr double kMaxPagesPerBatch = 1 << 20;
// A physical batch never covers more than this many times --batch-size rows.
constexpr double kMaxScanFactor = 4.0;
// How long the fast path waits for a row lock before it falls back to SKIP LOCKED.
constexpr long long kFastPathLockWaitMs = 50;
// First key of batch_cleanup's advisory locks ("bc_1"), so they do not collide with the
// application's single-key locks; the second key is hashtext() of the pending table's name.
constexpr const char* kAdvisoryLockClass = "1650679601";
// Listed conflicts of a restore (all are counted).
constexpr int kMaxListedConflicts = 1000;

// Builds a PostgreSQL array literal {"a","b"} from text values.
std::string array_literal(const std::vector<std::string>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (const char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

// The first tuple of page `block`, as a tid literal.
// A heap position: page `block`, line pointer `offset` (0: the start of the page).
struct TidPos {
  long long block = 0;
  long long offset = 0;
};

std::string tid_text(long long block, long long offset = 0) {
  return fmt::format("({},{})", block, offset);
}
std::string tid_text(const TidPos& pos) { return tid_text(pos.block, pos.offset); }

struct LockedRow {
  std::string locator;  // ctid text (physical) or key text (key strategy)
  PendingRow row;
};

class PostgresStore final : public CleanupStore {
 public:
  PostgresStore(CleanupConfig config, config::DatabaseTarget target)
      : config_(std::move(config)),
        target_(std::move(target)),
        session_(config::extract_password(target_.conninfo)),
        pending_(config::parse_table_name(config_.pending_table, "pending table")),
        users_(config::parse_table_name(config_.users_table, "users table")),
        key_(config::quote_identifier(
            config::validate_identifier(config_.pending_key, "pending key"))),
        email_(config::quote_identifier(
            config::validate_identifier(config_.email_column, "email column"))),
        history_(config::parse_table_name(config_.history_table, "history table")) {
    if (config_.match_phone) {
      phone_ = config::quote_identifier(
          config::validate_identifier(config_.phone_column, "phone column"));
    }
    if (uses_created()) {
      created_ = config::quote_identifier(
          config::validate_identifier(config_.created_column, "created column"));
    }
    single_reason_ = single_reason(config_);
    assign_policy_params();
  }

  std::string backend_name() const override { return "postgresql"; }

  void connect() override {
    session_.connect(
        target_.conninfo,
        std::max<int>(1, static_cast<int>((config_.connect_timeout.count() + 999) / 1000)));
    session_.exec(
        "SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false), "
        "set_config('idle_in_transaction_session_timeout', $3, false)",
        {std::to_string(config_.lock_timeout.count()) + "ms",
         std::to_string(config_.statement_timeout.count()) + "ms",
         std::to_string(std::max<long long>(60'000, 4 * config_.statement_timeout.count())) +
             "ms"});
    try {
      // PostgreSQL 14+: a backend whose client died (kill -9) stops its statement within a
      // second and releases its locks, instead of running on until the statement ends.
      session_.exec("SELECT set_config('client_connection_check_interval', '1s', false)");
    } catch (const DatabaseError&) {
      // Older servers have no such setting; nothing else depends on it.
    }
    session_lock_timeout_ = std::to_string(config_.lock_timeout.count()) + "ms";
    fast_lock_timeout_ =
        std::to_string(std::min<long long>(kFastPathLockWaitMs, config_.lock_timeout.count())) +
        "ms";
    if (config_.dry_run) {
      // Belt and braces: a dry run's session cannot write even by mistake.
      session_.exec("SET default_transaction_read_only = on");
    }
    logging::logger()->debug("connected to postgresql {}", session_.describe());
  }

  PreflightResult preflight() override {
    PreflightResult result;
    const Relation pending = resolve(pending_, "pending table", "--pending-table");
    const Relation users = resolve(users_, "users table", "--users-table");
    if (pending.oid == users.oid) {
      throw GuardError("guard 'distinct-tables' refused to run: the users table '" +
                       users_.display() + "' and the pending table '" + pending_.display() +
                       "' are the same relation. HINT: point --users-table and --pending-table "
                       "at two different tables");
    }
    if (pending.relkind != "r" && pending.relkind != "p") {
      throw ConfigError("pending table '" + pending_.display() + "' is not a table (relkind " +
                        pending.relkind + ")");
    }
    const Column key = column(pending, config_.pending_key, "--pending-key", pending_);
    const Column pending_email = column(pending, config_.email_column, "--email-column", pending_);
    const Column users_email = column(users, config_.email_column, "--email-column", users_);
    (void)pending_email;
    if (!pending.can_delete && !config_.dry_run) {
      throw ConfigError("permission denied: the connected role has no DELETE privilege on '" +
                        pending_.display() + "'. HINT: GRANT SELECT, DELETE ON " +
                        pending_.display() + " TO <role>");
    }
    if (!users.can_select || !pending.can_select) {
      throw ConfigError("permission denied: the connected role needs SELECT on '" +
                        users_.display() + "' and '" + pending_.display() + "'");
    }
    const auto unique = session_.exec(
        "SELECT count(*) FROM pg_index i WHERE i.indrelid = $1::oid AND i.indisunique "
        "AND i.indnkeyatts = 1 AND i.indkey[0] = $2::smallint AND i.indexprs IS NULL "
        "AND i.indpred IS NULL",
        {pending.oid, key.attnum});
    if (unique.integer(0, 0) == 0) {
      throw GuardError("guard 'unique-key' refused to run: the key column '" + config_.pending_key +
                       "' of '" + pending_.display() +
                       "' has no unique index, so a key may name several rows. HINT: pass the "
                       "primary key column with --pending-key, or add a UNIQUE constraint");
    }
    const auto indexed = session_.exec(
        "SELECT count(*) FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
        "JOIN pg_am am ON am.oid = ic.relam WHERE i.indrelid = $1::oid "
        "AND i.indkey[0] = $2::smallint AND i.indexprs IS NULL AND i.indpred IS NULL "
        "AND i.indisvalid AND am.amname IN ('btree', 'hash')",
        {users.oid, users_email.attnum});
    if (indexed.integer(0, 0) == 0 && config_.match_email &&
        config_.normalize_email == EmailNormalization::kNone) {
      result.warnings.push_back(
          "no index on " + users_.display() + "(" + config_.email_column +
          "): every batch will scan the users table. HINT: CREATE INDEX CONCURRENTLY ON " +
          users_.quoted() + " (" + email_ + ");");
    }

    key_type_ = key.type;
    physical_ = config_.batch_strategy == BatchStrategy::kPhysical ||
                (config_.batch_strategy == BatchStrategy::kAuto && pending.relkind == "r");
    if (physical_ && pending.relkind != "r") {
      throw ConfigError("--batch-strategy physical needs a plain table, but '" +
                        pending_.display() +
                        "' is partitioned. HINT: use --batch-strategy key or auto");
    }
    pending_oid_ = pending.oid;
    users_oid_ = users.oid;
    pending_columns_.clear();
    const auto columns = session_.exec(
        "SELECT a.attname::text, a.attgenerated <> '' FROM pg_attribute a WHERE a.attrelid = "
        "$1::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        {pending.oid});
    for (int r = 0; r < columns.rows(); ++r) {
      pending_columns_.push_back({columns.text(r, 0), columns.text(r, 1) == "t"});
    }
    lock_name_ = "batch_cleanup:" +
                 session_
                     .exec(
                         "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN "
                         "pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::oid",
                         {pending.oid})
                     .text(0, 0);
    archive_on_ = false;
    // FOR UPDATE SKIP LOCKED needs UPDATE on the pending table. Without it, a row another
    // session holds is found by a short lock wait instead (and skipped just the same).
    skip_locked_ = pending.can_update;
    if (!skip_locked_) {
      result.warnings.push_back(
          "the role has no UPDATE privilege on " + pending_.display() +
          ": rows that other sessions hold locked are detected by a " +
          std::to_string(kFastPathLockWaitMs) +
          " ms lock wait each instead of SKIP LOCKED. HINT: GRANT UPDATE ON " + pending_.display() +
          " TO <role> (batch_cleanup never updates a row)");
    }
    preflight_policies(pending, users, result);
    prepare_statements();
    result.strategy = physical_ ? "physical" : "key";
    return result;
  }

  std::int64_t count_candidates() override {
    return session_
        .exec("SELECT count(*) FROM " + pending_.quoted() + " p WHERE " + predicate(false, 1),
              with_policy({}))
        .integer(0, 0);
  }

  std::vector<PendingRow> sample_candidates(std::int64_t limit) override {
    const auto rows =
        session_.exec("SELECT p." + key_ + "::text, p." + email_ + "::text, " + reason_expr(false) +
                          " FROM " + pending_.quoted() + " p WHERE " + predicate(false, 2) +
                          " ORDER BY p." + key_ + " LIMIT $1",
                      with_policy({std::to_string(limit)}));
    std::vector<PendingRow> out;
    for (int r = 0; r < rows.rows(); ++r) {
      out.push_back({rows.text(r, 0), rows.text(r, 1)});
      out.back().reason = rows.text(r, 2);
    }
    return out;
  }

  PolicyPreview preview_policies() override {
    // One pass over the pending table; each policy's users side is a distinct set joined by
    // hash (a dry run counts the whole table, so no per-row index probes).
    std::string joins;
    std::vector<std::pair<std::string, std::string>> flags;  // name, expression over p and joins
    if (config_.match_email) {
      joins += " LEFT JOIN (SELECT DISTINCT " + normalized("u." + email_) + " AS n FROM " +
               users_.quoted() + " u) ue ON ue.n = " + normalized("p." + email_);
      flags.push_back({"e", "ue.n IS NOT NULL"});
      if (config_.normalize_email != EmailNormalization::kNone) {
        joins += " LEFT JOIN (SELECT DISTINCT u." + email_ + " AS n FROM " + users_.quoted() +
                 " u) ux ON ux.n = p." + email_;
        flags.push_back({"x", "ux.n IS NOT NULL"});
      }
    }
    if (config_.match_phone) {
      joins += " LEFT JOIN (SELECT DISTINCT u." + phone_ + " AS n FROM " + users_.quoted() +
               " u WHERE btrim(u." + phone_ + "::text) <> '') up ON up.n = p." + phone_;
      flags.push_back({"ph", "up.n IS NOT NULL"});
    }
    if (config_.expire_after.count() > 0)
      flags.push_back({"ex", "coalesce(" + expired(1) + ", false)"});
    flags.push_back({"old", min_age_ord_ >= 0 ? "coalesce(" + old_enough(1) + ", false)" : "true"});
    flags.push_back({"keep", exclusions(1).empty() ? "false" : "NOT (" + exclusions(1) + ")"});
    std::string matched;
    for (const char* name : {"e", "ph", "ex"}) {
      for (const auto& flag : flags) {
        if (flag.first == name) matched += (matched.empty() ? "" : " OR ") + flag.first;
      }
    }
    std::string inner;
    for (const auto& [name, expression] : flags) {
      inner += (inner.empty() ? "" : ", ") + expression + " AS " + name;
    }
    const std::string m = "(" + matched + ")";
    const auto row = session_.exec(
        std::string("SELECT count(*) FILTER (WHERE ") + (config_.match_email ? "e" : "false") +
            "), count(*) FILTER (WHERE " +
            (config_.normalize_email != EmailNormalization::kNone && config_.match_email
                 ? "e AND NOT x"
                 : "false") +
            "), count(*) FILTER (WHERE " + (config_.match_phone ? "ph" : "false") +
            "), count(*) FILTER (WHERE " + (config_.expire_after.count() > 0 ? "ex" : "false") +
            "), count(*) FILTER (WHERE " + m + " AND NOT old), count(*) FILTER (WHERE " + m +
            " AND old AND keep) FROM (SELECT " + inner + " FROM " + pending_.quoted() + " p" +
            joins + ") s",
        with_policy({}));
    PolicyPreview preview;
    if (config_.match_email) preview.email = row.integer(0, 0);
    if (config_.match_email && config_.normalize_email != EmailNormalization::kNone) {
      preview.email_extra_from_normalization = row.integer(0, 1);
    }
    if (config_.match_phone) preview.phone = row.integer(0, 2);
    if (config_.expire_after.count() > 0) preview.expired = row.integer(0, 3);
    if (min_age_ord_ >= 0) preview.kept_by_min_age = row.integer(0, 4);
    if (!exclusions(1).empty()) preview.kept_by_exclusion = row.integer(0, 5);
    if (config_.match_email && config_.normalize_email != EmailNormalization::kNone) {
      auto collisions = email_collisions(5);
      preview.users_email_collisions = collisions.count;
      preview.collision_sample = std::move(collisions.sample);
    }
    return preview;
  }

  void begin_pass() override {
    last_key_.reset();
    exhausted_ = false;
    next_block_ = 0;
    next_offset_ = 0;
    if (physical_) {
      end_block_ = session_
                       .exec(
                           "SELECT pg_relation_size($1::oid) / "
                           "current_setting('block_size')::bigint",
                           {pending_oid_})
                       .integer(0, 0);
      rows_per_page_ = measure_rows_per_page();
      // MaxHeapTuplesPerPage: (block size - page header) / (tuple header + line pointer).
      const auto block_size =
          session_.exec("SELECT current_setting('block_size')::bigint").integer(0, 0);
      max_tuples_per_page_ = (block_size - 24) / (24 + 4);
      // Start by assuming every row matches (a small first batch); adapt from there.
      density_ = rows_per_page_;
    }
  }

  BatchResult run_next_batch(std::int64_t target_rows) override {
    target_rows = std::max<std::int64_t>(1, target_rows);
    auto result = physical_ ? run_physical_batch(target_rows) : run_key_batch(target_rows);
    tally_policies(result, single_reason_);
    return result;
  }

  std::string explain_batch(std::int64_t target_rows) override {
    std::string out;
    const auto plan = [&](const std::string& title, const std::string& sql, const Params& params) {
      out += "-- " + title + "\n" + sql + "\n";
      const auto rows = session_.exec("EXPLAIN " + sql, params);
      for (int r = 0; r < rows.rows(); ++r) out += rows.text(r, 0) + "\n";
      out += "\n";
    };
    if (physical_) {
      const auto end = physical_range_end(target_rows);
      const Params range{tid_text(next_block_, next_offset_), tid_text(end)};
      plan("fast path: delete the range's matching rows (" + tid_text(next_block_, next_offset_) +
               " to " + tid_text(end) + ")",
           fast_delete_sql_, with_policy(range));
      plan("careful path: lock the range's free matching rows", lock_sql_, with_policy(range));
      plan("careful path: delete the locked rows, predicate re-checked", delete_sql_,
           with_archive({"{\"(0,1)\",\"(0,2)\"}"}));
    } else {
      plan("lock the batch's matching rows (first batch)", lock_first_sql_,
           with_policy({std::to_string(target_rows)}));
      plan("delete the locked rows, predicate re-checked", delete_sql_, with_archive({"{}"}));
    }
    plan("isolate one refused row", delete_one_sql_,
         with_archive({physical_ ? std::optional<std::string>("(0,1)") : std::nullopt}));
    return out;
  }

  void record_run(const RunRecord& run) override {
    if (!history_ready_) {
      const auto exists = session_.exec("SELECT to_regclass($1) IS NOT NULL", {history_.quoted()});
      if (exists.text(0, 0) != "t") {
        create_history_table();
      } else if (!history_has_job()) {
        // A table of a version before jobs: the column is added once, on the first cycle.
        session_.exec("ALTER TABLE " + history_.quoted() + " ADD COLUMN IF NOT EXISTS job text");
      }
      history_ready_ = true;
    }
    session_.exec(
        "INSERT INTO " + history_.quoted() + " (" + kHistoryColumns +
            ") VALUES ($1, $2::timestamptz, $3::timestamptz, $4, $5, $6, $7, $8, $9, "
            "$10, $11, $12, NULLIF($13, ''), $14)",
        {run.cycle_id, run.started_at, run.finished_at, run.host, run.mode,
         std::to_string(run.candidates), std::to_string(run.deleted), std::to_string(run.failed),
         std::to_string(run.skipped), std::to_string(run.batches),
         fmt::format("{:.3f}", run.duration_ms), run.outcome, run.error, run.job});
  }

  void create_history_table() {
    try {
      session_.exec("CREATE TABLE IF NOT EXISTS " + history_.quoted() +
                    " (run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                    "cycle_id text NOT NULL, started_at timestamptz NOT NULL, "
                    "finished_at timestamptz NOT NULL, host text NOT NULL, mode text NOT NULL, "
                    "candidates bigint NOT NULL, deleted bigint NOT NULL, failed bigint NOT NULL, "
                    "skipped bigint NOT NULL, batches bigint NOT NULL, "
                    "duration_ms double precision NOT NULL, outcome text NOT NULL, error text, "
                    "job text)");
    } catch (const DatabaseError& e) {
      // Another session (another job of this process, another instance) created it at the same
      // moment: IF NOT EXISTS does not cover a concurrent CREATE.
      if (e.sqlstate() != "23505" && e.sqlstate() != "42P07") throw;
    }
  }

  // Whether the (existing) history table has the job column.
  bool history_has_job() {
    return session_
               .exec(
                   "SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass($1) AND "
                   "attname = 'job' AND attnum > 0 AND NOT attisdropped",
                   {history_.quoted()})
               .text(0, 0) != "0";
  }

  std::vector<RunRecord> recent_runs(std::int64_t limit, const std::string& job) override {
    const auto exists = session_.exec("SELECT to_regclass($1) IS NOT NULL", {history_.quoted()});
    if (exists.text(0, 0) != "t") return {};
    const char* iso = "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'";
    // Rows of a table from before jobs belong to the only job there was.
    const std::string job_column =
        history_has_job() ? "coalesce(job, 'default')" : "'default'::text";
    const auto rows = session_.exec(
        std::string("SELECT cycle_id, to_char(started_at AT TIME ZONE 'UTC', ") + iso +
            "), to_char(finished_at AT TIME ZONE 'UTC', " + iso +
            "), host, mode, candidates, deleted, failed, skipped, batches, duration_ms, outcome, "
            "coalesce(error, ''), " +
            job_column + " FROM " + history_.quoted() + " WHERE ($2 = '' OR " + job_column +
            " = $2) ORDER BY run_id DESC LIMIT $1",
        {std::to_string(std::max<std::int64_t>(0, limit)), job});
    std::vector<RunRecord> out;
    for (int r = 0; r < rows.rows(); ++r) {
      RunRecord run;
      run.cycle_id = rows.text(r, 0);
      run.started_at = rows.text(r, 1);
      run.finished_at = rows.text(r, 2);
      run.host = rows.text(r, 3);
      run.mode = rows.text(r, 4);
      run.candidates = rows.integer(r, 5);
      run.deleted = rows.integer(r, 6);
      run.failed = rows.integer(r, 7);
      run.skipped = rows.integer(r, 8);
      run.batches = rows.integer(r, 9);
      run.duration_ms = std::stod(rows.text(r, 10));
      run.outcome = rows.text(r, 11);
      run.error = rows.text(r, 12);
      run.job = rows.text(r, 13);
      out.push_back(std::move(run));
    }
    return out;
  }

  void cancel() noexcept override { session_.cancel(); }

  bool users_table_empty() override {
    return session_.exec("SELECT NOT EXISTS (SELECT 1 FROM " + users_.quoted() + ")").text(0, 0) ==
           "t";
  }

  std::int64_t count_pending() override {
    return session_.exec("SELECT count(*) FROM " + pending_.quoted()).integer(0, 0);
  }

  void set_commit_observer(CommitObserver* observer) override { observer_ = observer; }

  std::chrono::milliseconds replication_lag() override {
    // replay_lag is visible to superusers and members of pg_monitor (NULL otherwise).
    const auto rows = session_.exec(
        "SELECT coalesce(round(max(extract(epoch FROM replay_lag)) * 1000), 0)::bigint FROM "
        "pg_stat_replication WHERE state = 'streaming'");
    return std::chrono::milliseconds(rows.integer(0, 0));
  }

  std::vector<std::string> existing_keys(const std::vector<std::string>& keys) override {
    const auto rows =
        session_.exec("SELECT k FROM unnest($1::text[]) k WHERE EXISTS (SELECT 1 FROM " +
                          pending_.quoted() + " p WHERE p." + key_ + " = k::" + key_type_ + ")",
                      {array_literal(keys)});
    std::vector<std::string> out;
    for (int r = 0; r < rows.rows(); ++r) out.push_back(rows.text(r, 0));
    return out;
  }

  bool try_lock_instance() override {
    const bool got = session_
                         .exec(std::string("SELECT pg_try_advisory_lock(") + kAdvisoryLockClass +
                                   ", hashtext($1))",
                               {lock_name_})
                         .text(0, 0) == "t";
    lock_held_ = got;
    return got;
  }

  void unlock_instance() noexcept override {
    if (!lock_held_) return;
    lock_held_ = false;
    try {
      if (session_.connected()) {
        session_.exec(
            std::string("SELECT pg_advisory_unlock(") + kAdvisoryLockClass + ", hashtext($1))",
            {lock_name_});
      }
    } catch (...) {
      // The session is broken: the server releases the lock with it.
    }
  }

  void prepare_archive(const std::string& cycle_id) override {
    const auto archive = archive_name();
    auto existing = session_.exec(
        "SELECT c.oid::text FROM pg_class c WHERE c.oid = to_regclass($1)", {archive.quoted()});
    if (existing.rows() == 0) {
      session_.exec("CREATE TABLE IF NOT EXISTS " + archive.quoted() + " (LIKE " +
                    pending_.quoted() +
                    ", archived_at timestamptz NOT NULL DEFAULT now(), cycle_id text NOT NULL, "
                    "reason text NOT NULL)");
      session_.exec("CREATE INDEX IF NOT EXISTS " +
                    config::quote_identifier(archive.name.substr(0, 40) + "_archived_at_idx") +
                    " ON " + archive.quoted() + " (archived_at)");
      session_.exec("CREATE INDEX IF NOT EXISTS " +
                    config::quote_identifier(archive.name.substr(0, 40) + "_cycle_id_idx") +
                    " ON " + archive.quoted() + " (cycle_id)");
      logging::logger()->info("created archive table {}", archive.display());
      existing = session_.exec("SELECT c.oid::text FROM pg_class c WHERE c.oid = to_regclass($1)",
                               {archive.quoted()});
    }
    const std::string oid = existing.text(0, 0);
    if (oid == pending_oid_ || oid == users_oid_) {
      throw ConfigError("invalid --archive-table '" + archive.display() +
                        "': it is the users or pending table; use a table of its own");
    }
    check_archive_columns(oid, archive);
    archive_cycle_ = cycle_id;
    if (!archive_on_) {
      archive_on_ = true;
      prepare_statements();
    }
  }

  std::int64_t purge_archive(std::chrono::milliseconds older_than,
                             std::int64_t batch_rows) override {
    const auto archive = archive_name();
    if (session_.exec("SELECT to_regclass($1) IS NULL", {archive.quoted()}).text(0, 0) == "t") {
      return 0;
    }
    const std::string sql = "DELETE FROM " + archive.quoted() +
                            " WHERE ctid = ANY (ARRAY(SELECT ctid FROM " + archive.quoted() +
                            " WHERE archived_at < now() - $1::interval LIMIT $2))";
    const std::string age = std::to_string(older_than.count()) + " milliseconds";
    std::int64_t total = 0;
    while (true) {
      const auto n = session_.exec(sql, {age, std::to_string(batch_rows)}).affected();
      total += n;
      if (n < batch_rows) break;
    }
    return total;
  }

  RestoreResult restore(const RestoreRequest& request) override {
    const auto archive = archive_name();
    const auto existing = session_.exec(
        "SELECT c.oid::text FROM pg_class c WHERE c.oid = "
        "to_regclass($1)",
        {archive.quoted()});
    if (existing.rows() == 0) {
      throw ConfigError("archive table '" + archive.display() +
                        "' does not exist. HINT: check --archive-table");
    }
    check_archive_columns(existing.text(0, 0), archive);
    const Params filter_params = {
        request.cycle_id.empty() ? std::nullopt : std::optional<std::string>(request.cycle_id),
        request.since.empty() ? std::nullopt : std::optional<std::string>(request.since)};
    const std::string filter =
        "($1::text IS NULL OR a.cycle_id = $1) AND ($2::timestamptz IS NULL OR a.archived_at >= "
        "$2::timestamptz)";
    const std::string key_conflict =
        "EXISTS (SELECT 1 FROM " + pending_.quoted() + " x WHERE x." + key_ + " = a." + key_ + ")";
    const std::string email_conflict = "EXISTS (SELECT 1 FROM " + pending_.quoted() +
                                       " x WHERE x." + email_ + " = a." + email_ + ")";
    RestoreResult result;
    PgTransaction tx(session_);
    result.selected =
        session_
            .exec("SELECT count(*) FROM " + archive.quoted() + " a WHERE " + filter, filter_params)
            .integer(0, 0);
    Params listed_params = filter_params;
    listed_params.push_back(std::to_string(kMaxListedConflicts));
    const auto conflicts = session_.exec(
        "SELECT a." + key_ + "::text, a." + email_ + "::text, " + key_conflict + " FROM " +
            archive.quoted() + " a WHERE " + filter + " AND (" + key_conflict + " OR " +
            email_conflict + ") ORDER BY a." + key_ + " LIMIT $3",
        listed_params);
    for (int r = 0; r < conflicts.rows(); ++r) {
      result.conflicts.push_back(
          {{conflicts.text(r, 0), conflicts.optional_text(r, 1).value_or("")},
           conflicts.text(r, 2) == "t" ? "key exists in the pending table"
                                       : "email exists in the pending table"});
    }
    if (config_.dry_run) {
      result.restored =
          session_
              .exec("SELECT count(DISTINCT a." + key_ + ") FROM " + archive.quoted() + " a WHERE " +
                        filter + " AND NOT " + key_conflict + " AND NOT " + email_conflict,
                    filter_params)
              .integer(0, 0);
    } else {
      std::string columns;
      std::string values;
      for (const auto& column : pending_columns_) {
        if (column.generated) continue;
        if (!columns.empty()) {
          columns += ", ";
          values += ", ";
        }
        columns += config::quote_identifier(column.name);
        values += "(s.bc_row)." + config::quote_identifier(column.name);
      }
      result.restored =
          session_
              .exec("WITH src AS (SELECT DISTINCT ON (a." + key_ +
                        ") a.ctid AS bc_aid, a AS "
                        "bc_row FROM " +
                        archive.quoted() + " a WHERE " + filter + " ORDER BY a." + key_ +
                        ", a.archived_at DESC), ins AS (INSERT INTO " + pending_.quoted() + " (" +
                        columns + ") OVERRIDING SYSTEM VALUE SELECT " + values +
                        " FROM src s WHERE NOT EXISTS (SELECT 1 FROM " + pending_.quoted() +
                        " x WHERE x." + key_ + " = (s.bc_row)." + key_ + " OR x." + email_ +
                        " = (s.bc_row)." + email_ + ") ON CONFLICT DO NOTHING RETURNING " + key_ +
                        "::text AS k) DELETE FROM " + archive.quoted() +
                        " a USING src s, ins WHERE a.ctid = s.bc_aid AND (s.bc_row)." + key_ +
                        "::text = ins.k",
                    filter_params)
              .affected();
    }
    tx.commit();
    result.skipped = result.selected - result.restored;
    return result;
  }

 private:
  struct PendingColumn {
    std::string name;
    bool generated = false;
  };

  config::QualifiedName archive_name() const {
    if (config_.archive_table.empty()) throw ConfigError("no --archive-table configured");
    return config::parse_table_name(config_.archive_table, "archive table");
  }

  // The archive must hold every pending column (by name) plus archived_at, cycle_id, reason.
  void check_archive_columns(const std::string& oid, const config::QualifiedName& archive) {
    const auto rows = session_.exec(
        "SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = $1::oid AND a.attnum > 0 "
        "AND NOT a.attisdropped",
        {oid});
    std::unordered_set<std::string> names;
    for (int r = 0; r < rows.rows(); ++r) names.insert(rows.text(r, 0));
    std::vector<std::string> needed = {"archived_at", "cycle_id", "reason"};
    for (const auto& column : pending_columns_) needed.push_back(column.name);
    for (const auto& name : needed) {
      if (!names.count(name)) {
        throw ConfigError("archive table '" + archive.display() + "' has no column '" + name +
                          "'. HINT: an archive table needs the pending table's columns plus "
                          "archived_at, cycle_id and reason; name a new table and it is created");
      }
    }
  }

  // A DELETE ... WHERE returning the `returned` expressions (over p) for each deleted row, then
  // its reason (`reason`, over p), then the row as JSON when the archive file is on. With the
  // archive table on, the same statement inserts the deleted rows into it, with their reason
  // ($first_archive_param: the cycle id).
  // With `counting`, `returned` must be empty and the statement returns one row per reason: the
  // reason and how many rows it deleted (nothing per row crosses the network).
  std::string deleting(const std::string& where, std::vector<std::string> returned,
                       const std::string& reason, int first_archive_param,
                       bool counting = false) const {
    const std::string head = "DELETE FROM " + pending_.quoted() + " p WHERE " + where;
    returned.push_back(reason);
    const std::string reason_alias = "bc_r" + std::to_string(returned.size() - 1);
    std::string plain;
    std::string aliased;
    std::string selected;
    for (std::size_t i = 0; i < returned.size(); ++i) {
      const std::string alias = "bc_r" + std::to_string(i);
      plain += (i ? ", " : "") + returned[i];
      aliased += returned[i] + " AS " + alias + ", ";
      selected += (i ? ", " : "") + alias;
    }
    const std::string counted = " SELECT " + reason_alias + ", count(*) FROM d GROUP BY 1";
    if (!archive_on_) {
      if (counting)
        return "WITH d AS (" + head + " RETURNING " + reason + " AS " + reason_alias + ")" +
               counted;
      return head + " RETURNING " + plain + (row_json_on() ? ", row_to_json(p)::text" : "");
    }
    std::string columns;
    std::string values;
    for (const auto& column : pending_columns_) {
      columns += config::quote_identifier(column.name) + ", ";
      values += "(d.bc_row)." + config::quote_identifier(column.name) + ", ";
    }
    return "WITH d AS (" + head + " RETURNING " + aliased +
           "p AS bc_row), bc_archived AS (INSERT INTO " + archive_name().quoted() + " (" + columns +
           "archived_at, cycle_id, reason) SELECT " + values + "now(), $" +
           std::to_string(first_archive_param) + ", d." + reason_alias + " FROM d)" +
           (counting ? counted
                     : " SELECT " + selected +
                           (row_json_on() ? ", row_to_json(bc_row)::text" : "") + " FROM d");
  }

  bool row_json_on() const { return !config_.archive_file.empty(); }

  // COMMIT, with the commit observer (the archive file) told before and, when the outcome is
  // known, after.
  void commit_observed(PgTransaction& tx, const std::vector<PendingRow>& rows) {
    CommitObserver* observer = rows.empty() ? nullptr : observer_;
    if (observer != nullptr) observer->before_commit(rows);
    try {
      tx.commit();
    } catch (const DatabaseError& e) {
      if (observer != nullptr && e.kind() != ErrorKind::kInDoubt) observer->after_commit(false);
      throw;
    }
    if (observer != nullptr) observer->after_commit(true);
  }

  // The statement's own parameters, then the policy parameters, then the archive's.
  Params with_archive(Params params) const {
    params = with_policy(std::move(params));
    if (archive_on_) params.push_back(archive_cycle_);
    return params;
  }
  struct Relation {
    std::string oid;
    std::string relkind;
    bool can_select = false;
    bool can_delete = false;
    bool can_update = false;  // on at least one column: what FOR UPDATE needs
  };
  struct Column {
    std::string attnum;
    std::string type;
  };

  // ---- The deletion predicate: policies (email, phone, expired) OR-ed, then the protections
  // (min-age, exclusions) AND-ed. Statement parameters come first; the policy parameters
  // (policy_params_) follow them, from $first on.

  bool uses_created() const {
    return config_.expire_after.count() > 0 || config_.min_age.count() > 0;
  }

  // The same normalisation on both sides of an email comparison.
  std::string normalized(const std::string& column) const {
    return normalized_email(config_.normalize_email, column);
  }

  // In batch statements (probe) the EXISTS carries OFFSET 0, which keeps PostgreSQL from
  // turning it into a (hash) semi-join: a batch of a few thousand rows must probe the users'
  // index row by row, never scan the whole users table.
  std::string email_exists(bool probe) const {
    return "EXISTS (SELECT 1 FROM " + users_.quoted() + " u WHERE " + normalized("u." + email_) +
           " = " + normalized("p." + email_) + (probe ? " OFFSET 0)" : ")");
  }
  // An empty (or blank) phone never matches, even when a user has one too.
  std::string phone_exists(bool probe) const {
    return "(btrim(p." + phone_ + "::text) <> '' AND EXISTS (SELECT 1 FROM " + users_.quoted() +
           " u WHERE u." + phone_ + " = p." + phone_ + (probe ? " OFFSET 0))" : "))");
  }
  std::string param(int first, int ordinal) const { return "$" + std::to_string(first + ordinal); }
  // The creation time as an absolute instant: a timestamptz as it is; a timestamp or date read
  // in --created-time-zone (never in the session's TimeZone, which the server, the role or PGTZ
  // may set to anything).
  std::string created_instant(int first) const {
    if (created_zone_ord_ < 0) return "p." + created_;
    return "(p." + created_ + "::timestamp AT TIME ZONE " + param(first, created_zone_ord_) +
           "::text)";
  }
  std::string expired(int first) const {
    return created_instant(first) + " < now() - " + param(first, expire_ord_) + "::interval";
  }
  std::string old_enough(int first) const {
    return created_instant(first) + " <= now() - " + param(first, min_age_ord_) + "::interval";
  }
  // True when the row is not exempt; empty without exemptions.
  std::string exclusions(int first) const {
    std::string out;
    const std::string email = "lower(btrim(p." + email_ + "::text))";
    if (exclude_email_ord_ >= 0) {
      out = "NOT coalesce(" + email + " = ANY (" + param(first, exclude_email_ord_) +
            "::text[]), false)";
    }
    if (exclude_domain_ord_ >= 0) {
      // The part after the last '@' (split_part and reverse: no regular expression per row).
      out += (out.empty() ? "" : " AND ") + std::string("NOT coalesce(strpos(") + email +
             ", '@') > 0 AND reverse(split_part(reverse(" + email + "), '@', 1)) = ANY (" +
             param(first, exclude_domain_ord_) + "::text[]), false)";
    }
    return out;
  }

  // The parts of the predicate; parameters from $first on.
  PolicySql policy_sql(bool probe, int first) const {
    PolicySql sql;
    if (config_.match_email) sql.email = email_exists(probe);
    if (config_.match_phone) sql.phone = phone_exists(probe);
    if (config_.expire_after.count() > 0) sql.expired = expired(first);
    if (min_age_ord_ >= 0) sql.old_enough = old_enough(first);
    sql.not_exempt = exclusions(first);
    return sql;
  }
  std::string predicate(bool probe, int first) const {
    return deletion_predicate(policy_sql(probe, first));
  }
  // The reason of a deleted row, as an SQL expression over p. The expiry condition is never
  // tested there (it is the last), so the expression takes no parameter.
  std::string reason_expr(bool probe) const {
    return "(" + reason_expression(policy_sql(probe, 1)) + ")::text";
  }

  // Which policy parameter is which ($first + ordinal); -1: not used. Values are set by
  // preflight (the exclusion lists are normalised by the server, with its own lower()).
  void assign_policy_params() {
    int next = 0;
    min_age_ord_ = config_.min_age.count() > 0 ? next++ : -1;
    expire_ord_ = config_.expire_after.count() > 0 ? next++ : -1;
    exclude_email_ord_ = config_.exclude_emails.empty() ? -1 : next++;
    exclude_domain_ord_ = config_.exclude_domains.empty() ? -1 : next++;
    created_zone_ord_ = -1;  // preflight adds it once it knows the column's type
    policy_params_.assign(static_cast<std::size_t>(next), std::nullopt);
    const auto interval = [](std::chrono::milliseconds age) {
      return std::to_string(age.count()) + " milliseconds";
    };
    if (min_age_ord_ >= 0) policy_params_[min_age_ord_] = interval(config_.min_age);
    if (expire_ord_ >= 0) policy_params_[expire_ord_] = interval(config_.expire_after);
  }

  void prepare_exclusions() {
    const std::string normalize =
        "SELECT coalesce(array_agg(DISTINCT lower(btrim(x))), '{}')::text FROM unnest($1::text[]) "
        "x";
    if (exclude_email_ord_ >= 0) {
      std::vector<std::string> emails;
      for (const auto& email : config_.exclude_emails) emails.push_back(exclusion_email(email));
      policy_params_[exclude_email_ord_] =
          session_.exec(normalize, {array_literal(emails)}).text(0, 0);
    }
    if (exclude_domain_ord_ >= 0) {
      std::vector<std::string> domains;
      for (const auto& domain : config_.exclude_domains)
        domains.push_back(exclusion_domain(domain));
      policy_params_[exclude_domain_ord_] =
          session_.exec(normalize, {array_literal(domains)}).text(0, 0);
    }
  }

  Params with_policy(Params params) const {
    params.insert(params.end(), policy_params_.begin(), policy_params_.end());
    return params;
  }
  int policy_param_count() const { return static_cast<int>(policy_params_.size()); }

  // Whether an index of the users table serves the probe `users_side = pending_side` of a
  // batch, asked of the planner with sequential scans disabled (so table sizes and statistics
  // do not matter): the probe of users (alias u) must be an index scan.
  bool users_index_serves(const std::string& users_side, const std::string& pending_side) {
    PgTransaction tx(session_);
    session_.exec("SELECT set_config('enable_seqscan', 'off', true)");
    const auto plan = session_.exec("EXPLAIN (COSTS OFF) SELECT 1 FROM " + pending_.quoted() +
                                    " p WHERE EXISTS (SELECT 1 FROM " + users_.quoted() +
                                    " u WHERE " + users_side + " = " + pending_side + " OFFSET 0)");
    // An index scan of u with an Index Cond: a full index scan with a Filter does not count.
    bool in_users_index_scan = false;
    for (int r = 0; r < plan.rows(); ++r) {
      const std::string line = plan.text(r, 0);
      if (line.find("->") != std::string::npos || r == 0) {
        const bool on_users = line.size() >= 2 && line.compare(line.size() - 2, 2, " u") == 0;
        in_users_index_scan = on_users && line.find("Index") != std::string::npos;
      } else if (in_users_index_scan && line.find("Index Cond:") != std::string::npos) {
        return true;
      }
    }
    return false;
  }

  EmailCollisions email_collisions(int sample_size) {
    const auto rows =
        session_.exec("SELECT n, count(*) OVER () FROM (SELECT " + normalized("u." + email_) +
                          " AS n FROM " + users_.quoted() + " u WHERE u." + email_ +
                          " IS NOT NULL GROUP BY 1 HAVING count(*) > 1) s ORDER BY n LIMIT $1",
                      {std::to_string(sample_size)});
    EmailCollisions out;
    if (rows.rows() > 0) out.count = rows.integer(0, 1);
    for (int r = 0; r < rows.rows(); ++r) out.sample.push_back(rows.text(r, 0));
    return out;
  }

  // Preflight for the policies beyond exact email: columns, their types, supporting indexes.
  void preflight_policies(const Relation& pending, const Relation& users, PreflightResult& result) {
    if (config_.match_email && config_.normalize_email != EmailNormalization::kNone) {
      const std::string expression = normalized("u." + email_);
      if (!users_index_serves(expression, normalized("p." + email_))) {
        const std::string bare = normalized(email_);
        result.warnings.push_back(
            "no index on " + users_.display() + " supports " + bare +
            " (--normalize-email): every batch will scan the users table. HINT: CREATE INDEX "
            "CONCURRENTLY " +
            config::quote_identifier(
                users_.name.substr(0, 40) + "_email_" +
                (config_.normalize_email == EmailNormalization::kLower ? "lower" : "lower_trim") +
                "_idx") +
            " ON " + users_.quoted() + " (" + bare + ");");
      }
      if (const auto n = email_collisions(1).count; n > 0) {
        result.warnings.push_back(collision_warning(n, users_.display()));
      }
    }
    if (config_.match_phone) {
      column(pending, config_.phone_column, "--phone-column", pending_);
      column(users, config_.phone_column, "--phone-column", users_);
      if (!users_index_serves("u." + phone_, "p." + phone_)) {
        result.warnings.push_back("no index on " + users_.display() + "(" + config_.phone_column +
                                  "): every batch will scan the users table for phones. HINT: "
                                  "CREATE INDEX CONCURRENTLY ON " +
                                  users_.quoted() + " (" + phone_ + ");");
      }
    }
    assign_policy_params();
    if (uses_created()) {
      const Column created = column(pending, config_.created_column, "--created-column", pending_);
      const std::string& type = created.type;
      const bool timestamp = type.rfind("timestamp", 0) == 0;
      const bool with_zone = timestamp && type.find("with time zone") != std::string::npos &&
                             type.find("without") == std::string::npos;
      if (!timestamp && type != "date") {
        throw ConfigError("column '" + config_.created_column + "' of '" + pending_.display() +
                          "' has type " + type +
                          "; --expire-after and --min-age need a timestamp, timestamptz or date "
                          "column. HINT: check --created-column");
      }
      if (type == "date" && config_.min_age.count() > 0) {
        throw ConfigError("column '" + config_.created_column + "' of '" + pending_.display() +
                          "' is a date: --min-age cannot tell a sign-up made a minute ago from one "
                          "made this morning. HINT: use a timestamp column, or drop --min-age");
      }
      if (!with_zone) {
        try {
          session_.exec("SELECT now() AT TIME ZONE $1::text", {config_.created_time_zone});
        } catch (const DatabaseError& e) {
          if (e.kind() == ErrorKind::kRetryable) throw;
          throw ConfigError("invalid --created-time-zone '" + config_.created_time_zone +
                            "': " + e.what());
        }
        created_zone_ord_ = policy_param_count();
        policy_params_.push_back(config_.created_time_zone);
      }
    }
    prepare_exclusions();
  }

  Relation resolve(const config::QualifiedName& name, const char* what, const char* flag) {
    const auto rows = session_.exec(
        "SELECT c.oid::text, c.relkind::text, has_table_privilege(c.oid, 'SELECT'), "
        "has_table_privilege(c.oid, 'DELETE'), has_any_column_privilege(c.oid, 'UPDATE') "
        "FROM pg_class c WHERE c.oid = to_regclass($1)",
        {name.quoted()});
    if (rows.rows() == 0) {
      throw ConfigError(std::string(what) + " '" + name.display() +
                        "' does not exist (or is not visible to this role). HINT: check " + flag +
                        " and the schema; names are case-sensitive");
    }
    return {rows.text(0, 0), rows.text(0, 1), rows.text(0, 2) == "t", rows.text(0, 3) == "t",
            rows.text(0, 4) == "t"};
  }

  Column column(const Relation& relation, const std::string& name, const char* flag,
                const config::QualifiedName& table) {
    const auto rows = session_.exec(
        "SELECT a.attnum::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "WHERE a.attrelid = $1::oid AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
        {relation.oid, name});
    if (rows.rows() == 0) {
      throw ConfigError("column '" + name + "' does not exist in table '" + table.display() +
                        "'. HINT: check " + flag);
    }
    return {rows.text(0, 0), rows.text(0, 1)};
  }

  // Rows per page, counted on the first pages (statistics may be missing or stale).
  double measure_rows_per_page() {
    const auto pages = session_
                           .exec(
                               "SELECT pg_relation_size($1::oid) / "
                               "current_setting('block_size')::bigint",
                               {pending_oid_})
                           .integer(0, 0);
    const long long sample_pages = std::clamp<long long>(pages, 1, 64);
    const auto sampled =
        session_
            .exec("SELECT count(*) FROM " + pending_.quoted() + " p WHERE p.ctid < $1::tid",
                  {tid_text(sample_pages)})
            .integer(0, 0);
    return std::max(1.0, static_cast<double>(sampled) / static_cast<double>(sample_pages));
  }

  void prepare_statements() {
    const std::string from = " FROM " + pending_.quoted() + " p";
    const std::string lock_clause = skip_locked_ ? " FOR UPDATE OF p SKIP LOCKED" : "";
    const int k = policy_param_count();
    const std::string reason = reason_expr(true);
    if (physical_) {
      lock_sql_ = "WITH matched AS MATERIALIZED (SELECT p.ctid AS tid" + from +
                  " WHERE p.ctid >= $1::tid AND p.ctid < $2::tid AND " + predicate(true, 3) +
                  "), locked AS (SELECT p.ctid AS tid, p." + key_ + "::text AS k, p." + email_ +
                  "::text AS e" + from + " WHERE p.ctid = ANY (ARRAY(SELECT tid FROM matched))" +
                  lock_clause +
                  ") "
                  "SELECT NULL::text, NULL::text, NULL::text, (SELECT count(*) FROM matched) "
                  "UNION ALL SELECT tid::text, k, e, NULL FROM locked";
      const std::string range_where =
          "p.ctid >= $1::tid AND p.ctid < $2::tid AND " + predicate(true, 3);
      fast_delete_sql_ = "DELETE" + from + " WHERE " + range_where;
      fast_delete_counting_sql_ = deleting(range_where, {}, reason, 3 + k, /*counting=*/true);
      fast_delete_returning_sql_ =
          deleting(range_where, {"p." + key_ + "::text", "p." + email_ + "::text"}, reason, 3 + k);
      delete_sql_ = deleting("p.ctid = ANY ($1::tid[]) AND " + predicate(true, 2), {"p.ctid::text"},
                             reason, 2 + k);
      delete_one_sql_ =
          deleting("p.ctid = $1::tid AND " + predicate(true, 2), {"p.ctid::text"}, reason, 2 + k);
    } else {
      const auto lock_with = [&](const std::string& lower_bound) {
        const int first = lower_bound.empty() ? 2 : 3;
        return "WITH matched AS MATERIALIZED (SELECT p." + key_ + " AS key" + from + " WHERE " +
               lower_bound + predicate(true, first) + " ORDER BY p." + key_ + " LIMIT $" +
               (lower_bound.empty() ? "1" : "2") + "), locked AS (SELECT p." + key_ +
               "::text AS k, p." + email_ + "::text AS e" + from + " WHERE p." + key_ +
               " = ANY (ARRAY(SELECT key FROM matched))" + lock_clause +
               ") "
               "SELECT NULL::text, (SELECT key::text FROM matched ORDER BY key DESC LIMIT 1), "
               "NULL::text, (SELECT count(*) FROM matched) UNION ALL SELECT k, k, e, NULL FROM "
               "locked";
      };
      lock_first_sql_ = lock_with("");
      lock_after_sql_ = lock_with("p." + key_ + " > $1::" + key_type_ + " AND ");
      delete_sql_ =
          deleting("p." + key_ + " = ANY ($1::" + key_type_ + "[]) AND " + predicate(true, 2),
                   {"p." + key_ + "::text"}, reason, 2 + k);
      delete_one_sql_ = deleting("p." + key_ + " = $1::" + key_type_ + " AND " + predicate(true, 2),
                                 {"p." + key_ + "::text"}, reason, 2 + k);
    }
  }

  // Where the next physical batch ends (exclusive): enough heap for about target_rows matches
  // at the density seen so far, and never more than kMaxScanFactor * target_rows rows in all, so
  // that a batch stays bounded even where the density jumps. Small batches cover part of a page.
  TidPos physical_range_end(std::int64_t target_rows) const {
    const double cap = std::clamp(
        kMaxScanFactor * static_cast<double>(target_rows) / rows_per_page_, 0.0, kMaxPagesPerBatch);
    const double pages = std::clamp(static_cast<double>(target_rows) / density_, 0.0, cap);
    if (next_offset_ == 0 && pages >= 1.0) {
      return {next_block_ + static_cast<long long>(std::ceil(pages)), 0};
    }
    // Part of a page: count line pointers from the cursor, never past the page's last one.
    const auto tuples =
        std::max<long long>(1, static_cast<long long>(std::ceil(pages * rows_per_page_)));
    const long long end_offset = std::max<long long>(next_offset_, 1) + tuples;
    if (end_offset > max_tuples_per_page_) return {next_block_ + 1, 0};
    return {next_block_, end_offset};
  }

  // One batch over a range of pages. The fast path is a single DELETE of the range's matching
  // rows, the predicate evaluated by the DELETE itself, under a short lock timeout. When a row
  // of the range is held locked by another session (lock_not_available) or a row is refused,
  // the range is done again the careful way: lock what is free (SKIP LOCKED), delete it, and
  // isolate refused rows.
  BatchResult run_physical_batch(std::int64_t target_rows) {
    BatchResult result;
    const TidPos range_end = physical_range_end(target_rows);
    const Params range{tid_text(next_block_, next_offset_), tid_text(range_end)};
    {
      auto phase_start = Clock::now();
      PgTransaction tx(session_);
      session_.exec("SAVEPOINT bc_fast");
      bool fast = false;
      try {
        session_.exec("SELECT set_config('lock_timeout', $1, true)", {fast_lock_timeout_});
        // The deleted rows come back only when someone needs them: the debug log or the archive
        // file. With several policies, or the archive table (whose INSERT rides on the same
        // statement), the statement returns a count per reason; otherwise just its row count.
        const bool want_rows = row_json_on() || logging::logger()->should_log(spdlog::level::debug);
        const bool counting = !want_rows && (archive_on_ || single_reason_.empty());
        const auto deleted =
            want_rows  ? session_.exec(fast_delete_returning_sql_, with_archive(range))
            : counting ? session_.exec(fast_delete_counting_sql_, with_archive(range))
                       : session_.exec(fast_delete_sql_, with_policy(range));
        session_.exec("RELEASE SAVEPOINT bc_fast");
        if (counting) {
          for (int r = 0; r < deleted.rows(); ++r) {
            count_reason(deleted.text(r, 0), result.deleted_by_policy, deleted.integer(r, 1));
            result.deleted += deleted.integer(r, 1);
          }
        } else {
          for (int r = 0; r < deleted.rows(); ++r) {
            result.deleted_rows.push_back(
                {deleted.text(r, 0), deleted.optional_text(r, 1).value_or("")});
            result.deleted_rows.back().reason = deleted.text(r, 2);
            if (row_json_on()) result.deleted_rows.back().row_json = deleted.text(r, 3);
          }
          result.deleted = want_rows ? deleted.rows() : deleted.affected();
        }
        result.matched = result.deleted;
        fast = true;
      } catch (const DatabaseError& e) {
        if (e.sqlstate() != "55P03" && e.kind() != ErrorKind::kRowLevel) throw;
        logging::logger()->debug("range {} to {}: {} ({}); locking row by row",
                                 tid_text(next_block_, next_offset_), tid_text(range_end), e.what(),
                                 e.sqlstate());
        session_.exec("ROLLBACK TO SAVEPOINT bc_fast");
        session_.exec("SELECT set_config('lock_timeout', $1, true)", {session_lock_timeout_});
      }
      result.timings.delete_ms = ms_since(phase_start);  // the range DELETE finds and deletes
      if (!fast) {
        phase_start = Clock::now();
        std::vector<LockedRow> locked;
        const auto rows = session_.exec(lock_sql_, with_policy(range));
        read_locked(rows, locked, result);
        result.timings.find_ms = ms_since(phase_start);
        phase_start = Clock::now();
        if (!locked.empty()) delete_locked(locked, result);
        result.timings.delete_ms += ms_since(phase_start);
      }
      phase_start = Clock::now();
      commit_observed(tx, result.deleted_rows);
      result.timings.commit_ms = ms_since(phase_start);
    }
    // The batch is durable: advance the pass.
    // Pages covered, fractions of a page counted in line pointers.
    const double scanned =
        std::max(1.0 / rows_per_page_,
                 static_cast<double>(range_end.block - next_block_) +
                     static_cast<double>(range_end.offset - next_offset_) / rows_per_page_);
    const double observed = static_cast<double>(result.matched) / scanned;
    density_ = result.matched > 0 ? std::max(1e-4, 0.3 * density_ + 0.7 * observed)
                                  : std::max(1e-4, density_ / 4);
    next_block_ = range_end.block;
    next_offset_ = range_end.offset;
    if (next_block_ >= end_block_) {
      // The table may have grown while we worked; cover the new pages too.
      end_block_ = session_
                       .exec(
                           "SELECT pg_relation_size($1::oid) / "
                           "current_setting('block_size')::bigint",
                           {pending_oid_})
                       .integer(0, 0);
      exhausted_ = next_block_ >= end_block_;
    }
    result.progress =
        end_block_ > 0 ? std::min(1.0, static_cast<double>(next_block_) / end_block_) : 1.0;
    result.exhausted = exhausted_;
    return result;
  }

  // One keyset batch: the next target_rows matching rows in key order, locked (SKIP LOCKED),
  // then deleted with the predicate re-checked.
  BatchResult run_key_batch(std::int64_t target_rows) {
    BatchResult result;
    std::optional<std::string> batch_last_key;
    {
      auto phase_start = Clock::now();
      PgTransaction tx(session_);
      const auto rows =
          last_key_ ? session_.exec(lock_after_sql_,
                                    with_policy({*last_key_, std::to_string(target_rows)}))
                    : session_.exec(lock_first_sql_, with_policy({std::to_string(target_rows)}));
      std::vector<LockedRow> locked;
      batch_last_key = read_locked(rows, locked, result);
      result.timings.find_ms = ms_since(phase_start);
      phase_start = Clock::now();
      if (!locked.empty()) delete_locked(locked, result);
      result.timings.delete_ms = ms_since(phase_start);
      phase_start = Clock::now();
      commit_observed(tx, result.deleted_rows);
      result.timings.commit_ms = ms_since(phase_start);
    }
    if (result.matched < target_rows || !batch_last_key) {
      exhausted_ = true;
    } else {
      last_key_ = batch_last_key;
    }
    result.progress = exhausted_ ? 1.0 : 0.0;
    result.exhausted = exhausted_;
    return result;
  }

  // Reads the result of a lock statement: a summary row (NULL locator: matched count and the
  // batch's last key) and one row per locked row. Returns the last key.
  std::optional<std::string> read_locked(const PgResult& rows, std::vector<LockedRow>& locked,
                                         BatchResult& result) {
    std::optional<std::string> last_key;
    for (int r = 0; r < rows.rows(); ++r) {
      if (rows.is_null(r, 0)) {
        result.matched = rows.integer(r, 3);
        last_key = rows.optional_text(r, 1);
      } else {
        locked.push_back(
            {rows.text(r, 0), {rows.text(r, 1), rows.optional_text(r, 2).value_or("")}});
      }
    }
    result.skipped = result.matched - static_cast<std::int64_t>(locked.size());
    return last_key;
  }

  void delete_locked(const std::vector<LockedRow>& locked, BatchResult& result) {
    std::vector<std::string> locators;
    locators.reserve(locked.size());
    for (const auto& row : locked) locators.push_back(row.locator);
    // Without SKIP LOCKED the rows are not locked yet: wait only briefly for each.
    if (!skip_locked_) {
      session_.exec("SELECT set_config('lock_timeout', $1, true)", {fast_lock_timeout_});
    }
    session_.exec("SAVEPOINT bc_batch");
    try {
      const auto deleted = session_.exec(delete_sql_, with_archive({array_literal(locators)}));
      std::unordered_map<std::string, std::pair<std::string, std::string>> gone;  // reason, json
      for (int r = 0; r < deleted.rows(); ++r) {
        gone[deleted.text(r, 0)] = {deleted.text(r, 1),
                                    row_json_on() ? deleted.text(r, 2) : std::string()};
      }
      for (const auto& row : locked) {
        const auto found = gone.find(row.locator);
        if (found == gone.end()) continue;
        result.deleted_rows.push_back(row.row);
        result.deleted_rows.back().reason = found->second.first;
        result.deleted_rows.back().row_json = found->second.second;
      }
      result.deleted = deleted.rows();
      session_.exec("RELEASE SAVEPOINT bc_batch");
    } catch (const DatabaseError& e) {
      const bool held = !skip_locked_ && e.sqlstate() == "55P03";
      if (e.kind() != ErrorKind::kRowLevel && !held) throw;
      logging::logger()->debug("batch of {} rows refused ({}: {}); retrying row by row",
                               locked.size(), e.sqlstate(), e.what());
      session_.exec("ROLLBACK TO SAVEPOINT bc_batch");
      for (const auto& row : locked) {
        session_.exec("SAVEPOINT bc_row");
        try {
          const auto deleted = session_.exec(delete_one_sql_, with_archive({row.locator}));
          session_.exec("RELEASE SAVEPOINT bc_row");
          if (deleted.rows() > 0) {
            ++result.deleted;
            result.deleted_rows.push_back(row.row);
            result.deleted_rows.back().reason = deleted.text(0, 1);
            if (row_json_on()) result.deleted_rows.back().row_json = deleted.text(0, 2);
          }
        } catch (const DatabaseError& row_error) {
          if (!skip_locked_ && row_error.sqlstate() == "55P03") {
            session_.exec("ROLLBACK TO SAVEPOINT bc_row");
            ++result.skipped;  // held by another session: left for the next cycle
            continue;
          }
          if (row_error.kind() != ErrorKind::kRowLevel) throw;
          session_.exec("ROLLBACK TO SAVEPOINT bc_row");
          result.failures.push_back({row.row, row_error.sqlstate(), row_error.what()});
        }
      }
    }
    if (!skip_locked_) {
      session_.exec("SELECT set_config('lock_timeout', $1, true)", {session_lock_timeout_});
    }
    result.no_longer_matching = static_cast<std::int64_t>(locked.size()) - result.deleted -
                                static_cast<std::int64_t>(result.failures.size()) -
                                (skip_locked_ ? 0 : result.skipped);
  }

  CleanupConfig config_;
  config::DatabaseTarget target_;
  PgSession session_;
  config::QualifiedName pending_;
  config::QualifiedName users_;
  std::string key_;
  std::string email_;
  std::string phone_;          // quoted --phone-column (with --match phone)
  std::string created_;        // quoted --created-column (with --expire-after or --min-age)
  std::string single_reason_;  // the reason of every deleted row; empty with several policies
  // Policy parameters: their values, and which is which (-1: not used).
  Params policy_params_;
  int min_age_ord_ = -1;
  int expire_ord_ = -1;
  int exclude_email_ord_ = -1;
  int exclude_domain_ord_ = -1;
  int created_zone_ord_ = -1;  // a timestamp or date column: the zone it is read in
  config::QualifiedName history_;
  bool history_ready_ = false;

  std::string key_type_;
  std::string users_oid_;
  std::vector<PendingColumn> pending_columns_;
  std::string lock_name_;  // "batch_cleanup:schema.table", hashed into the advisory lock key
  bool lock_held_ = false;
  CommitObserver* observer_ = nullptr;
  bool archive_on_ = false;
  std::string archive_cycle_;
  std::string pending_oid_;
  bool physical_ = true;
  bool skip_locked_ = true;  // the role may lock rows FOR UPDATE (needs UPDATE privilege)
  std::string lock_sql_, lock_first_sql_, lock_after_sql_, delete_sql_, delete_one_sql_;
  std::string fast_delete_sql_, fast_delete_returning_sql_, fast_delete_counting_sql_;
  std::string session_lock_timeout_;  // --lock-timeout, as set on the session
  std::string fast_lock_timeout_;     // the fast path's shorter wait before it falls back

  // Pass state; advanced only after a batch commits.
  long long next_block_ = 0;
  long long next_offset_ = 0;            // line pointer within next_block_ (0: its start)
  long long max_tuples_per_page_ = 291;  // MaxHeapTuplesPerPage for the server's block size
  double rows_per_page_ = 60.0;          // measured at the start of a pass
  long long end_block_ = 0;
  double density_ = 60.0;  // matching rows per page, adapted batch by batch
  std::optional<std::string> last_key_;
  bool exhausted_ = false;
};

}  // namespace

std::unique_ptr<CleanupStore> make_postgres_store(const CleanupConfig& config,
                                                  const config::DatabaseTarget& target) {
  return std::make_unique<PostgresStore>(config, target);
}

}  // namespace batch_cleanup::store
