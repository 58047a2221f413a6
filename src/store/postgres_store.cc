#include "store/postgres_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "batch_cleanup/errors.h"
#include "config/identifier.h"
#include "log/logger.h"
#include "store/pg_session.h"

namespace batch_cleanup::store {
namespace {

using Params = std::vector<std::optional<std::string>>;

constexpr double kMaxPagesPerBatch = 1 << 20;
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
            config::validate_identifier(config_.email_column, "email column"))) {
    match_ = "EXISTS (SELECT 1 FROM " + users_.quoted() + " u WHERE u." + email_ + " = p." +
             email_ + ")";
  }

  std::string backend_name() const override { return "postgresql"; }

  void connect() override {
    lock_held_ = false;  // a new session holds no advisory lock
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
    if (!pending.can_lock && !config_.dry_run) {
      throw ConfigError(
          "permission denied: the connected role cannot lock rows of '" + pending_.display() +
          "' (SELECT ... FOR UPDATE SKIP LOCKED needs UPDATE on at least one column; no row is "
          "ever updated). HINT: GRANT UPDATE (" +
          config_.pending_key + ") ON " + pending_.display() + " TO <role>");
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

    if (!locked.empty()) delete_locked(locked, result);
    commit_observed(tx, result.deleted_rows);

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

  // Wraps a DELETE ... WHERE so that, with the archive on, the deleted rows are inserted into
  // the archive by the same statement. Returns `locator` for each deleted row.
  std::string deleting(const std::string& where, const std::string& locator,
                       int first_archive_param) const {
    const std::string head = "DELETE FROM " + pending_.quoted() + " p WHERE " + where;
    if (!archive_on_) {
      return head + " RETURNING " + locator + (row_json_on() ? ", row_to_json(p)::text" : "");
    }
    std::string columns;
    std::string values;
    for (const auto& column : pending_columns_) {
      columns += config::quote_identifier(column.name) + ", ";
      values += "(d.bc_row)." + config::quote_identifier(column.name) + ", ";
    }
    return "WITH d AS (" + head + " RETURNING " + locator +
           " AS bc_locator, p AS bc_row), bc_archived AS (INSERT INTO " + archive_name().quoted() +
           " (" + columns + "archived_at, cycle_id, reason) SELECT " + values + "now(), $" +
           std::to_string(first_archive_param) + ", $" + std::to_string(first_archive_param + 1) +
           " FROM d) SELECT bc_locator" + (row_json_on() ? ", row_to_json(bc_row)::text" : "") +
           " FROM d";
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

  Params with_archive(Params params) const {
    if (archive_on_) {
      params.push_back(archive_cycle_);
      params.push_back(std::string(kArchiveReason));
    }
    return params;
  }

  struct Relation {
    std::string oid;
    std::string relkind;
    bool can_select = false;
    bool can_delete = false;
    bool can_lock = false;  // UPDATE on some column: what SELECT ... FOR UPDATE requires
  };
  struct Column {
    std::string attnum;
    std::string type;
  };

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
      delete_sql_ = deleting("p.ctid = ANY ($1::tid[]) AND " + match_, "p.ctid::text", 2);
      delete_one_sql_ = deleting("p.ctid = $1::tid AND " + match_, "p.ctid::text", 2);
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
      delete_sql_ = deleting("p." + key_ + " = ANY ($1::" + key_type_ + "[]) AND " + match_,
                             "p." + key_ + "::text", 2);
      delete_one_sql_ = deleting("p." + key_ + " = $1::" + key_type_ + " AND " + match_,
                                 "p." + key_ + "::text", 2);
    }
  }

  void delete_locked(const std::vector<LockedRow>& locked, BatchResult& result) {
    std::vector<std::string> locators;
    locators.reserve(locked.size());
    for (const auto& row : locked) locators.push_back(row.locator);
    session_.exec("SAVEPOINT bc_batch");
    try {
      const auto deleted = session_.exec(delete_sql_, with_archive({array_literal(locators)}));
      std::unordered_map<std::string, std::string> gone;
      for (int r = 0; r < deleted.rows(); ++r) {
        gone[deleted.text(r, 0)] = row_json_on() ? deleted.text(r, 1) : std::string();
      }
      for (const auto& row : locked) {
        const auto found = gone.find(row.locator);
        if (found == gone.end()) continue;
        result.deleted_rows.push_back(row.row);
        result.deleted_rows.back().row_json = found->second;
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
          const auto deleted = session_.exec(delete_one_sql_, with_archive({row.locator}));
          session_.exec("RELEASE SAVEPOINT bc_row");
          if (deleted.rows() > 0) {
            ++result.deleted;
            result.deleted_rows.push_back(row.row);
            if (row_json_on()) result.deleted_rows.back().row_json = deleted.text(0, 1);
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

  std::string key_type_;
  std::string pending_oid_;
  std::string users_oid_;
  std::vector<PendingColumn> pending_columns_;
  std::string lock_name_;  // "batch_cleanup:schema.table", hashed into the advisory lock key
  bool lock_held_ = false;
  CommitObserver* observer_ = nullptr;
  bool archive_on_ = false;
  std::string archive_cycle_;
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
