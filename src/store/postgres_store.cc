#include "store/postgres_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <unordered_set>

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
    "batches, duration_ms, outcome, error";

constexpr double kMaxPagesPerBatch = 1 << 20;

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

std::string tid_text(long long block, long long offset = 0) {
  return fmt::format("({},{})", block, offset);
}

// Parses "(block,offset)".
std::pair<long long, long long> parse_tid(const std::string& text) {
  const auto comma = text.find(',');
  return {std::stoll(text.substr(1, comma - 1)), std::stoll(text.substr(comma + 1))};
}

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
    match_ = "EXISTS (SELECT 1 FROM " + users_.quoted() + " u WHERE u." + email_ + " = p." +
             email_ + ")";
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
    if (!pending.can_delete) {
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
    if (indexed.integer(0, 0) == 0) {
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
    prepare_statements();
    result.strategy = physical_ ? "physical" : "key";
    return result;
  }

  std::int64_t count_candidates() override {
    return session_.exec("SELECT count(*) FROM " + pending_.quoted() + " p WHERE " + match_)
        .integer(0, 0);
  }

  std::vector<PendingRow> sample_candidates(std::int64_t limit) override {
    const auto rows = session_.exec("SELECT p." + key_ + "::text, p." + email_ + "::text FROM " +
                                        pending_.quoted() + " p WHERE " + match_ + " ORDER BY p." +
                                        key_ + " LIMIT $1",
                                    {std::to_string(limit)});
    std::vector<PendingRow> out;
    for (int r = 0; r < rows.rows(); ++r) out.push_back({rows.text(r, 0), rows.text(r, 1)});
    return out;
  }

  void begin_pass() override {
    last_key_.reset();
    exhausted_ = false;
    next_block_ = 0;
    next_offset_ = 0;
    if (physical_) {
      const auto size = session_.exec(
          "SELECT pg_relation_size($1::oid) / current_setting('block_size')::bigint, "
          "c.reltuples::float8, c.relpages::bigint FROM pg_class c WHERE c.oid = $1::oid",
          {pending_oid_});
      end_block_ = size.integer(0, 0);
      const double reltuples = std::stod(size.text(0, 1));
      const double relpages = static_cast<double>(size.integer(0, 2));
      // Start by assuming every row matches (small first batch); adapt from there.
      density_ = (reltuples > 0 && relpages > 0) ? reltuples / relpages : 60.0;
    }
  }

  BatchResult run_next_batch(std::int64_t target_rows) override {
    target_rows = std::max<std::int64_t>(1, target_rows);
    BatchResult result;
    long long range_end = 0;
    std::vector<LockedRow> locked;
    std::optional<std::string> batch_last_key;

    auto phase_start = Clock::now();
    PgTransaction tx(session_);
    PgResult rows;
    if (physical_) {
      const double pages =
          std::clamp(static_cast<double>(target_rows) / density_, 1.0, kMaxPagesPerBatch);
      range_end = next_block_ + static_cast<long long>(std::ceil(pages));
      rows = session_.exec(lock_sql_, {tid_text(next_block_, next_offset_), tid_text(range_end),
                                       std::to_string(target_rows)});
    } else if (last_key_) {
      rows = session_.exec(lock_after_sql_, {*last_key_, std::to_string(target_rows)});
    } else {
      rows = session_.exec(lock_first_sql_, {std::to_string(target_rows)});
    }
    for (int r = 0; r < rows.rows(); ++r) {
      if (rows.is_null(r, 0)) {
        result.matched = rows.integer(r, 3);
        batch_last_key = rows.optional_text(r, 1);
      } else {
        locked.push_back(
            {rows.text(r, 0), {rows.text(r, 1), rows.optional_text(r, 2).value_or("")}});
      }
    }
    result.skipped = result.matched - static_cast<std::int64_t>(locked.size());
    result.timings.find_ms = ms_since(phase_start);

    phase_start = Clock::now();
    if (!locked.empty()) delete_locked(locked, result);
    result.timings.delete_ms = ms_since(phase_start);
    phase_start = Clock::now();
    tx.commit();
    result.timings.commit_ms = ms_since(phase_start);

    // The batch is durable: advance the pass.
    if (physical_) {
      if (result.matched >= target_rows && batch_last_key) {
        // The LIMIT cut the range short: go on right after the last matching row.
        const auto [block, offset] = parse_tid(*batch_last_key);
        const double scanned = std::max(1.0, static_cast<double>(block - next_block_) + 1.0);
        density_ =
            std::max(1e-4, 0.3 * density_ + 0.7 * static_cast<double>(result.matched) / scanned);
        next_block_ = block;
        next_offset_ = offset + 1;
      } else {
        const double scanned = static_cast<double>(range_end - next_block_);
        const double observed = static_cast<double>(result.matched) / scanned;
        density_ = result.matched > 0 ? std::max(1e-4, 0.3 * density_ + 0.7 * observed)
                                      : std::max(1e-4, density_ / 4);
        next_block_ = range_end;
        next_offset_ = 0;
      }
      if (next_block_ >= end_block_) {
        // The table may have grown while we worked; cover the new pages too.
        end_block_ =
            session_
                .exec("SELECT pg_relation_size($1::oid) / current_setting('block_size')::bigint",
                      {pending_oid_})
                .integer(0, 0);
        exhausted_ = next_block_ >= end_block_;
      }
      result.progress =
          end_block_ > 0 ? std::min(1.0, static_cast<double>(next_block_) / end_block_) : 1.0;
    } else {
      if (result.matched < target_rows || !batch_last_key) {
        exhausted_ = true;
      } else {
        last_key_ = batch_last_key;
      }
      result.progress = exhausted_ ? 1.0 : 0.0;
    }
    result.exhausted = exhausted_;
    return result;
  }

  void record_run(const RunRecord& run) override {
    if (!history_ready_) {
      const auto exists = session_.exec("SELECT to_regclass($1) IS NOT NULL", {history_.quoted()});
      if (exists.text(0, 0) != "t") {
        session_.exec(
            "CREATE TABLE IF NOT EXISTS " + history_.quoted() +
            " (run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
            "cycle_id text NOT NULL, started_at timestamptz NOT NULL, "
            "finished_at timestamptz NOT NULL, host text NOT NULL, mode text NOT NULL, "
            "candidates bigint NOT NULL, deleted bigint NOT NULL, failed bigint NOT NULL, "
            "skipped bigint NOT NULL, batches bigint NOT NULL, "
            "duration_ms double precision NOT NULL, outcome text NOT NULL, error text)");
      }
      history_ready_ = true;
    }
    session_.exec(
        "INSERT INTO " + history_.quoted() + " (" + kHistoryColumns +
            ") VALUES ($1, $2::timestamptz, $3::timestamptz, $4, $5, $6, $7, $8, $9, "
            "$10, $11, $12, NULLIF($13, ''))",
        {run.cycle_id, run.started_at, run.finished_at, run.host, run.mode,
         std::to_string(run.candidates), std::to_string(run.deleted), std::to_string(run.failed),
         std::to_string(run.skipped), std::to_string(run.batches),
         fmt::format("{:.3f}", run.duration_ms), run.outcome, run.error});
  }

  std::vector<RunRecord> recent_runs(std::int64_t limit) override {
    const auto exists = session_.exec("SELECT to_regclass($1) IS NOT NULL", {history_.quoted()});
    if (exists.text(0, 0) != "t") return {};
    const char* iso = "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'";
    const auto rows = session_.exec(
        std::string("SELECT cycle_id, to_char(started_at AT TIME ZONE 'UTC', ") + iso +
            "), to_char(finished_at AT TIME ZONE 'UTC', " + iso +
            "), host, mode, candidates, deleted, failed, skipped, batches, duration_ms, outcome, "
            "coalesce(error, '') FROM " +
            history_.quoted() + " ORDER BY run_id DESC LIMIT $1",
        {std::to_string(std::max<std::int64_t>(0, limit))});
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
      out.push_back(std::move(run));
    }
    return out;
  }

  void cancel() noexcept override { session_.cancel(); }

 private:
  struct Relation {
    std::string oid;
    std::string relkind;
    bool can_select = false;
    bool can_delete = false;
  };
  struct Column {
    std::string attnum;
    std::string type;
  };

  Relation resolve(const config::QualifiedName& name, const char* what, const char* flag) {
    const auto rows = session_.exec(
        "SELECT c.oid::text, c.relkind::text, has_table_privilege(c.oid, 'SELECT'), "
        "has_table_privilege(c.oid, 'DELETE') FROM pg_class c WHERE c.oid = to_regclass($1)",
        {name.quoted()});
    if (rows.rows() == 0) {
      throw ConfigError(std::string(what) + " '" + name.display() +
                        "' does not exist (or is not visible to this role). HINT: check " + flag +
                        " and the schema; names are case-sensitive");
    }
    return {rows.text(0, 0), rows.text(0, 1), rows.text(0, 2) == "t", rows.text(0, 3) == "t"};
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

  void prepare_statements() {
    const std::string from = " FROM " + pending_.quoted() + " p";
    if (physical_) {
      lock_sql_ =
          "WITH matched AS MATERIALIZED (SELECT p.ctid AS tid" + from +
          " WHERE p.ctid >= $1::tid AND p.ctid < $2::tid AND " + match_ +
          " ORDER BY p.ctid LIMIT $3), locked AS (SELECT p.ctid AS tid, p." + key_ +
          "::text AS k, p." + email_ + "::text AS e" + from +
          " WHERE p.ctid = ANY (ARRAY(SELECT tid FROM matched)) FOR UPDATE OF p SKIP LOCKED) "
          "SELECT NULL::text, (SELECT max(tid)::text FROM matched), NULL::text, "
          "(SELECT count(*) FROM matched) UNION ALL SELECT tid::text, k, e, NULL FROM locked";
      delete_sql_ = "DELETE" + from + " WHERE p.ctid = ANY ($1::tid[]) AND " + match_ +
                    " RETURNING p.ctid::text";
      delete_one_sql_ = "DELETE" + from + " WHERE p.ctid = $1::tid AND " + match_;
    } else {
      const auto lock_with = [&](const std::string& lower_bound) {
        return "WITH matched AS MATERIALIZED (SELECT p." + key_ + " AS key" + from + " WHERE " +
               lower_bound + match_ + " ORDER BY p." + key_ + " LIMIT $" +
               (lower_bound.empty() ? "1" : "2") + "), locked AS (SELECT p." + key_ +
               "::text AS k, p." + email_ + "::text AS e" + from + " WHERE p." + key_ +
               " = ANY (ARRAY(SELECT key FROM matched)) FOR UPDATE OF p SKIP LOCKED) "
               "SELECT NULL::text, (SELECT key::text FROM matched ORDER BY key DESC LIMIT 1), "
               "NULL::text, (SELECT count(*) FROM matched) UNION ALL SELECT k, k, e, NULL FROM "
               "locked";
      };
      lock_first_sql_ = lock_with("");
      lock_after_sql_ = lock_with("p." + key_ + " > $1::" + key_type_ + " AND ");
      delete_sql_ = "DELETE" + from + " WHERE p." + key_ + " = ANY ($1::" + key_type_ + "[]) AND " +
                    match_ + " RETURNING p." + key_ + "::text";
      delete_one_sql_ =
          "DELETE" + from + " WHERE p." + key_ + " = $1::" + key_type_ + " AND " + match_;
    }
  }

  void delete_locked(const std::vector<LockedRow>& locked, BatchResult& result) {
    std::vector<std::string> locators;
    locators.reserve(locked.size());
    for (const auto& row : locked) locators.push_back(row.locator);
    session_.exec("SAVEPOINT bc_batch");
    try {
      const auto deleted = session_.exec(delete_sql_, {array_literal(locators)});
      std::unordered_set<std::string> gone;
      for (int r = 0; r < deleted.rows(); ++r) gone.insert(deleted.text(r, 0));
      for (const auto& row : locked) {
        if (gone.count(row.locator)) result.deleted_rows.push_back(row.row);
      }
      result.deleted = deleted.rows();
      session_.exec("RELEASE SAVEPOINT bc_batch");
    } catch (const DatabaseError& e) {
      if (e.kind() != ErrorKind::kRowLevel) throw;
      logging::logger()->debug("batch of {} rows refused ({}: {}); retrying row by row",
                               locked.size(), e.sqlstate(), e.what());
      session_.exec("ROLLBACK TO SAVEPOINT bc_batch");
      for (const auto& row : locked) {
        session_.exec("SAVEPOINT bc_row");
        try {
          const auto deleted = session_.exec(delete_one_sql_, {row.locator});
          session_.exec("RELEASE SAVEPOINT bc_row");
          if (deleted.affected() > 0) {
            ++result.deleted;
            result.deleted_rows.push_back(row.row);
          }
        } catch (const DatabaseError& row_error) {
          if (row_error.kind() != ErrorKind::kRowLevel) throw;
          session_.exec("ROLLBACK TO SAVEPOINT bc_row");
          result.failures.push_back({row.row, row_error.sqlstate(), row_error.what()});
        }
      }
    }
    result.no_longer_matching = static_cast<std::int64_t>(locked.size()) - result.deleted -
                                static_cast<std::int64_t>(result.failures.size());
  }

  CleanupConfig config_;
  config::DatabaseTarget target_;
  PgSession session_;
  config::QualifiedName pending_;
  config::QualifiedName users_;
  std::string key_;
  std::string email_;
  std::string match_;
  config::QualifiedName history_;
  bool history_ready_ = false;

  std::string key_type_;
  std::string pending_oid_;
  bool physical_ = true;
  std::string lock_sql_, lock_first_sql_, lock_after_sql_, delete_sql_, delete_one_sql_;

  // Pass state; advanced only after a batch commits.
  long long next_block_ = 0;
  long long next_offset_ = 0;
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
