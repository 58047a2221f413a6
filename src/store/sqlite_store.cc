#include "store/sqlite_store.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>

#include "batch_cleanup/errors.h"
#include "config/identifier.h"
#include "log/logger.h"
#include "store/lock_file.h"

namespace batch_cleanup::store {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Virtual-machine instructions between two progress callbacks (cancel and statement timeout).
constexpr int kProgressInstructions = 4096;
// The busy timeout never goes below this: a short write by the application must not fail a batch.
constexpr std::chrono::milliseconds kMinBusyTimeout{5000};
// A batch examines at most max(kMinScanRows, kScanFactor * target) rows after the cursor, so a
// table with few matches is covered by several short write transactions rather than one long one.
constexpr std::int64_t kMinScanRows = 65536;
constexpr std::int64_t kScanFactor = 8;
constexpr std::int64_t kMaxScanRows = std::int64_t{1} << 40;
// SQLite's write lock is not fair: a writer of the application waiting in its busy handler
// (which sleeps up to 100ms between attempts) would keep losing it to back-to-back batches.
// Between two batches the store leaves the lock free for as long as the last batch held it,
// up to this cap, so the application's writes get through.
constexpr std::chrono::milliseconds kMaxYield{100};
// The fixed parameters the policy values are bound to, clear of any statement's own.
constexpr int kMinAgeParam = 101;
constexpr int kExpireParam = 102;
constexpr int kExcludedEmailsParam = 103;
constexpr int kExcludedDomainsParam = 104;

// ---------------------------------------------------------------------------------------------
// Error codes

struct CodeName {
  int code;
  const char* name;
};

#define BC_SQLITE_CODE(code) \
  CodeName { code, #code }

constexpr CodeName kCodeNames[] = {
    BC_SQLITE_CODE(SQLITE_ERROR),
    BC_SQLITE_CODE(SQLITE_INTERNAL),
    BC_SQLITE_CODE(SQLITE_PERM),
    BC_SQLITE_CODE(SQLITE_ABORT),
    BC_SQLITE_CODE(SQLITE_BUSY),
    BC_SQLITE_CODE(SQLITE_LOCKED),
    BC_SQLITE_CODE(SQLITE_NOMEM),
    BC_SQLITE_CODE(SQLITE_READONLY),
    BC_SQLITE_CODE(SQLITE_INTERRUPT),
    BC_SQLITE_CODE(SQLITE_IOERR),
    BC_SQLITE_CODE(SQLITE_CORRUPT),
    BC_SQLITE_CODE(SQLITE_NOTFOUND),
    BC_SQLITE_CODE(SQLITE_FULL),
    BC_SQLITE_CODE(SQLITE_CANTOPEN),
    BC_SQLITE_CODE(SQLITE_PROTOCOL),
    BC_SQLITE_CODE(SQLITE_EMPTY),
    BC_SQLITE_CODE(SQLITE_SCHEMA),
    BC_SQLITE_CODE(SQLITE_TOOBIG),
    BC_SQLITE_CODE(SQLITE_CONSTRAINT),
    BC_SQLITE_CODE(SQLITE_MISMATCH),
    BC_SQLITE_CODE(SQLITE_MISUSE),
    BC_SQLITE_CODE(SQLITE_NOLFS),
    BC_SQLITE_CODE(SQLITE_AUTH),
    BC_SQLITE_CODE(SQLITE_FORMAT),
    BC_SQLITE_CODE(SQLITE_RANGE),
    BC_SQLITE_CODE(SQLITE_NOTADB),
    BC_SQLITE_CODE(SQLITE_ERROR_MISSING_COLLSEQ),
    BC_SQLITE_CODE(SQLITE_ERROR_RETRY),
    BC_SQLITE_CODE(SQLITE_ERROR_SNAPSHOT),
    BC_SQLITE_CODE(SQLITE_ABORT_ROLLBACK),
    BC_SQLITE_CODE(SQLITE_BUSY_RECOVERY),
    BC_SQLITE_CODE(SQLITE_BUSY_SNAPSHOT),
    BC_SQLITE_CODE(SQLITE_BUSY_TIMEOUT),
    BC_SQLITE_CODE(SQLITE_LOCKED_SHAREDCACHE),
    BC_SQLITE_CODE(SQLITE_LOCKED_VTAB),
    BC_SQLITE_CODE(SQLITE_READONLY_RECOVERY),
    BC_SQLITE_CODE(SQLITE_READONLY_CANTLOCK),
    BC_SQLITE_CODE(SQLITE_READONLY_ROLLBACK),
    BC_SQLITE_CODE(SQLITE_READONLY_DBMOVED),
    BC_SQLITE_CODE(SQLITE_READONLY_CANTINIT),
    BC_SQLITE_CODE(SQLITE_READONLY_DIRECTORY),
    BC_SQLITE_CODE(SQLITE_IOERR_READ),
    BC_SQLITE_CODE(SQLITE_IOERR_SHORT_READ),
    BC_SQLITE_CODE(SQLITE_IOERR_WRITE),
    BC_SQLITE_CODE(SQLITE_IOERR_FSYNC),
    BC_SQLITE_CODE(SQLITE_IOERR_DIR_FSYNC),
    BC_SQLITE_CODE(SQLITE_IOERR_TRUNCATE),
    BC_SQLITE_CODE(SQLITE_IOERR_FSTAT),
    BC_SQLITE_CODE(SQLITE_IOERR_UNLOCK),
    BC_SQLITE_CODE(SQLITE_IOERR_RDLOCK),
    BC_SQLITE_CODE(SQLITE_IOERR_DELETE),
    BC_SQLITE_CODE(SQLITE_IOERR_NOMEM),
    BC_SQLITE_CODE(SQLITE_IOERR_ACCESS),
    BC_SQLITE_CODE(SQLITE_IOERR_LOCK),
    BC_SQLITE_CODE(SQLITE_IOERR_SHMOPEN),
    BC_SQLITE_CODE(SQLITE_IOERR_SHMSIZE),
    BC_SQLITE_CODE(SQLITE_IOERR_SHMLOCK),
    BC_SQLITE_CODE(SQLITE_IOERR_SHMMAP),
    BC_SQLITE_CODE(SQLITE_IOERR_SEEK),
    BC_SQLITE_CODE(SQLITE_IOERR_CORRUPTFS),
    BC_SQLITE_CODE(SQLITE_CANTOPEN_NOTEMPDIR),
    BC_SQLITE_CODE(SQLITE_CANTOPEN_ISDIR),
    BC_SQLITE_CODE(SQLITE_CANTOPEN_FULLPATH),
    BC_SQLITE_CODE(SQLITE_CANTOPEN_SYMLINK),
    BC_SQLITE_CODE(SQLITE_CORRUPT_VTAB),
    BC_SQLITE_CODE(SQLITE_CORRUPT_SEQUENCE),
    BC_SQLITE_CODE(SQLITE_CORRUPT_INDEX),
    BC_SQLITE_CODE(SQLITE_CONSTRAINT_CHECK),
    BC_SQLITE_CODE(SQLITE_CONSTRAINT_COMMITHOOK),
    BC_SQLITE_CODE(SQLITE_CONSTRAINT_FOREIGNKEY),
    BC_SQLITE_CODE(SQLITE_CONSTRAINT_FUNCTION),
    BC_SQLITE_CODE(SQLITE_CONSTRAINT_NOTNULL),
    BC_SQLITE_CODE(SQLITE_CONSTRAINT_PRIMARYKEY),
    BC_SQLITE_CODE(SQLITE_CONSTRAINT_TRIGGER),
    BC_SQLITE_CODE(SQLITE_CONSTRAINT_UNIQUE),
    BC_SQLITE_CODE(SQLITE_CONSTRAINT_VTAB),
    BC_SQLITE_CODE(SQLITE_CONSTRAINT_ROWID),
    BC_SQLITE_CODE(SQLITE_CONSTRAINT_PINNED),
    BC_SQLITE_CODE(SQLITE_CONSTRAINT_DATATYPE),
};

#undef BC_SQLITE_CODE

// "SQLITE_CONSTRAINT_FOREIGNKEY" for an (extended) result code; "SQLITE_<n>" when unknown.
std::string code_name(int code) {
  for (const auto& entry : kCodeNames) {
    if (entry.code == code) return entry.name;
  }
  return "SQLITE_" + std::to_string(code);
}

// How the engine reacts: lock waits and interruptions are retried, constraint and trigger
// refusals isolate the row, everything else (I/O, corruption, read-only, schema) is fatal.
ErrorKind classify(int code) {
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_INTERRUPT:
    case SQLITE_PROTOCOL:  // a WAL lock race; SQLite itself says "try again"
      return ErrorKind::kRetryable;
    case SQLITE_CONSTRAINT:  // FOREIGNKEY, TRIGGER (RAISE(ABORT|FAIL|ROLLBACK, ...)), CHECK, ...
      return ErrorKind::kRowLevel;
    default:
      break;
  }
  // A statement aborted because its transaction was rolled back (e.g. by an interrupt).
  if (code == SQLITE_ABORT_ROLLBACK) return ErrorKind::kRetryable;
  return ErrorKind::kFatal;
}

bool equal_nocase(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    const auto lower = [](char c) {
      return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    };
    return lower(x) == lower(y);
  });
}

struct ValueFree {
  void operator()(sqlite3_value* value) const noexcept { sqlite3_value_free(value); }
};
// A copy of a column value with its storage class, used as a batch bound (rowid or key).
using Value = std::unique_ptr<sqlite3_value, ValueFree>;

// ---------------------------------------------------------------------------------------------
// Connection: the handle, error translation, cancel and statement timeout.

class Connection {
 public:
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() { close(); }

  // Opens an existing database file; closes any previous handle first.
  void open(const std::string& path, bool read_only, std::chrono::milliseconds busy_timeout,
            std::chrono::milliseconds statement_timeout) {
    close();
    statement_timeout_ = statement_timeout;
    busy_timeout_ = busy_timeout;
    std::error_code ec;
    const bool exists = std::filesystem::exists(path, ec);
    if (!exists && !ec) {
      throw ConfigError("SQLite database file '" + path + "' does not exist");
    }
    // This libsqlite3 is built with URI filenames on: keep "file:..." a plain relative path, so
    // no URI parameter (mode=rwc, ...) can change how the file is opened.
    const std::string open_path = path.rfind("file:", 0) == 0 ? "./" + path : path;
    // No SQLITE_OPEN_CREATE: the file is never created. NOMUTEX: one thread uses the handle;
    // the only cross-thread call is sqlite3_interrupt(), which is documented as safe, and
    // cancel_mutex_ keeps it away from sqlite3_close().
    const int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
                      SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE | SQLITE_OPEN_EXRESCODE;
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(open_path.c_str(), &db, flags, nullptr);
    if (rc != SQLITE_OK) {
      const int code = db != nullptr ? sqlite3_extended_errcode(db) : rc;
      const std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
      sqlite3_close_v2(db);
      if (!std::filesystem::exists(path, ec) && !ec) {
        throw ConfigError("SQLite database file '" + path + "' does not exist");
      }
      throw DatabaseError(
          classify(code) == ErrorKind::kRetryable ? ErrorKind::kRetryable : ErrorKind::kFatal,
          code_name(code), "cannot open SQLite database file '" + path + "': " + message);
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, static_cast<int>(std::min<long long>(busy_timeout.count(), INT_MAX)));
    sqlite3_progress_handler(db, kProgressInstructions, &Connection::on_progress, this);
    {
      std::lock_guard lock(cancel_mutex_);
      db_ = db;
    }
    path_ = path;
    try {
      // Connection-level settings only: nothing persistent (journal_mode, ...) is touched.
      exec("PRAGMA foreign_keys = ON");
      if (read_only) exec("PRAGMA query_only = ON");
      // Read the schema now: a file that is not a database fails here, not in preflight.
      exec("SELECT count(*) FROM sqlite_schema");
    } catch (...) {
      close();
      throw;
    }
  }

  void close() noexcept {
    sqlite3* db = nullptr;
    {
      std::lock_guard lock(cancel_mutex_);
      db = std::exchange(db_, nullptr);
    }
    if (db != nullptr) sqlite3_close_v2(db);  // rolls back an open transaction
  }

  // The handle, or a retryable error when there is none (the engine reconnects).
  sqlite3* handle() const {
    if (db_ == nullptr) {
      throw DatabaseError(ErrorKind::kRetryable, "08006", "not connected to the SQLite database");
    }
    return db_;
  }

  const std::string& path() const { return path_; }
  bool in_transaction() const { return db_ != nullptr && sqlite3_get_autocommit(db_) == 0; }

  // Forgets an earlier cancel. Called when a pass, a dry run or a connection starts, but not per
  // batch: a cancel that lands between two statements of a batch (or just before the batch's
  // first one) must still stop it, so it holds until the next pass.
  void begin_operation() { cancel_requested_.store(false); }

  // Starts the statement timeout clock (before prepare and before a statement's first step).
  void arm() {
    timed_out_ = false;
    deadline_ = statement_timeout_.count() > 0 ? Clock::now() + statement_timeout_
                                               : Clock::time_point::max();
  }

  // From any thread.
  void cancel() noexcept {
    cancel_requested_.store(true);
    std::lock_guard lock(cancel_mutex_);
    if (db_ != nullptr) sqlite3_interrupt(db_);
  }

  // Throws the DatabaseError for a failed call that returned `rc`.
  [[noreturn]] void fail(int rc) const {
    std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
      case SQLITE_INTERRUPT:
        if (timed_out_) {
          message = "canceling statement due to statement timeout (" +
                    std::to_string(statement_timeout_.count()) + "ms)";
        } else if (cancel_requested_.load()) {
          message = "canceling statement due to user request";
        }
        break;
      case SQLITE_BUSY:
        message += " (still locked by another connection after " +
                   std::to_string(busy_timeout_.count()) + "ms)";
        break;
      default:
        break;
    }
    throw DatabaseError(classify(rc), code_name(rc), message);
  }

  // Runs one statement without parameters, discarding rows.
  void exec(const std::string& sql);

  // ROLLBACK when a transaction is open; never throws. If even that fails, the handle is closed
  // (which rolls back) so that no write lock outlives the batch.
  void rollback_quietly() noexcept {
    if (!in_transaction()) return;
    quiet_ = true;
    for (int attempt = 0; attempt < 3 && in_transaction(); ++attempt) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    quiet_ = false;
    if (in_transaction()) {
      try {
        logging::logger()->error(
            "ROLLBACK failed on the SQLite database ({}); closing the connection",
            sqlite3_errmsg(db_));
      } catch (...) {
      }
      close();
    }
  }

 private:
  static int on_progress(void* self) noexcept {
    auto* connection = static_cast<Connection*>(self);
    if (connection->quiet_) return 0;
    if (connection->cancel_requested_.load(std::memory_order_relaxed)) return 1;
    if (Clock::now() >= connection->deadline_) {
      connection->timed_out_ = true;
      return 1;
    }
    return 0;
  }

  sqlite3* db_ = nullptr;
  std::string path_;
  mutable std::mutex cancel_mutex_;  // guards db_ between cancel() and close()
  std::atomic<bool> cancel_requested_{false};
  std::chrono::milliseconds statement_timeout_{0};
  std::chrono::milliseconds busy_timeout_{0};
  Clock::time_point deadline_ = Clock::time_point::max();
  bool timed_out_ = false;
  bool quiet_ = false;  // no interruption while rolling back
};

// A prepared statement, finalized on destruction.
class Statement {
 public:
  Statement(Connection& connection, const std::string& sql) : connection_(connection) {
    sqlite3* db = connection_.handle();
    connection_.arm();
    const int rc =
        sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &stmt_, nullptr);
    if (rc != SQLITE_OK) connection_.fail(rc);
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  Statement& bind(int index, std::int64_t value) {
    check(sqlite3_bind_int64(stmt_, index, value));
    return *this;
  }
  Statement& bind(int index, const std::string& value) {
    check(sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()),
                            SQLITE_TRANSIENT));
    return *this;
  }
  Statement& bind(int index, double value) {
    check(sqlite3_bind_double(stmt_, index, value));
    return *this;
  }
  Statement& bind(int index, const sqlite3_value* value) {
    check(sqlite3_bind_value(stmt_, index, value));
    return *this;
  }

  // True when a row is available; false when the statement is done. Throws DatabaseError.
  bool step() {
    if (sqlite3_stmt_busy(stmt_) == 0) connection_.arm();
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    connection_.fail(rc);
  }

  // The largest parameter index the statement uses (0: none).
  int parameter_count() const { return sqlite3_bind_parameter_count(stmt_); }

  // Makes the statement runnable again (bindings are kept).
  void reset() noexcept { sqlite3_reset(stmt_); }

  bool is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  double real(int column) const { return sqlite3_column_double(stmt_, column); }
  std::string text(int column) const {
    const unsigned char* data = sqlite3_column_text(stmt_, column);
    if (data == nullptr) return {};
    return std::string(reinterpret_cast<const char*>(data),
                       static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
  }
  Value value(int column) const {
    Value copy(sqlite3_value_dup(sqlite3_column_value(stmt_, column)));
    if (!copy) throw DatabaseError(ErrorKind::kFatal, "SQLITE_NOMEM", "out of memory");
    return copy;
  }

 private:
  void check(int rc) const {
    if (rc != SQLITE_OK) connection_.fail(rc);
  }

  Connection& connection_;
  sqlite3_stmt* stmt_ = nullptr;
};

void Connection::exec(const std::string& sql) {
  Statement statement(*this, sql);
  while (statement.step()) {
  }
}

// BEGIN IMMEDIATE (the write lock, waiting up to the busy timeout) on construction; ROLLBACK in
// the destructor unless commit() succeeded.
class Transaction {
 public:
  explicit Transaction(Connection& connection) : connection_(connection) {
    connection_.exec("BEGIN IMMEDIATE");
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction() {
    if (!committed_) connection_.rollback_quietly();
  }

  // Throws DatabaseError; the transaction is still open (and rolled back by the destructor)
  // when COMMIT fails, e.g. SQLITE_BUSY or a deferred foreign key.
  void commit() {
    connection_.exec("COMMIT");
    committed_ = true;
  }

  // False once SQLite rolled the transaction back on its own (an interrupted write, a
  // trigger's RAISE(ROLLBACK, ...), ON CONFLICT ROLLBACK).
  bool active() const { return !committed_ && connection_.in_transaction(); }

 private:
  Connection& connection_;
  bool committed_ = false;
};

// ---------------------------------------------------------------------------------------------
// The store

struct Candidate {
  Value locator;  // rowid (rowid strategy) or key value (key strategy)
  PendingRow row;
};

struct ColumnInfo {
  std::string name;
  std::string type;
  int pk = 0;      // 1-based position in the primary key, 0 when not part of it
  int hidden = 0;  // pragma_table_xinfo: 2 or 3 for generated columns
};

struct Table {
  std::string schema;  // the attached database holding it: main, temp, ...
  std::string name;    // as stored in the schema
  std::string type;    // table, view, virtual, shadow
  bool without_rowid = false;
  std::vector<ColumnInfo> columns;

  std::string quoted() const {
    return config::quote_identifier(schema) + "." + config::quote_identifier(name);
  }
  const ColumnInfo* find(std::string_view column) const {
    for (const auto& info : columns) {
      if (equal_nocase(info.name, column)) return &info;
    }
    return nullptr;
  }
  int primary_key_columns() const {
    return static_cast<int>(std::count_if(columns.begin(), columns.end(),
                                          [](const ColumnInfo& c) { return c.pk > 0; }));
  }
  // An INTEGER PRIMARY KEY of a rowid table is the rowid itself.
  bool is_rowid_alias(const ColumnInfo& column) const {
    return !without_rowid && column.pk == 1 && primary_key_columns() == 1 &&
           equal_nocase(column.type, "INTEGER");
  }
};

class SqliteStore final : public CleanupStore {
 public:
  SqliteStore(CleanupConfig config, config::DatabaseTarget target)
      : config_(std::move(config)),
        target_(std::move(target)),
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
    if (config_.expire_after.count() > 0 || config_.min_age.count() > 0) {
      created_ = config::quote_identifier(
          config::validate_identifier(config_.created_column, "created column"));
    }
    single_reason_ = single_reason(config_);
    build_sql(pending_.quoted(), users_.quoted(), "p.rowid", false);
  }

  std::string backend_name() const override { return "sqlite"; }

  void connect() override {
    archive_ready_ = false;  // temp objects live and die with the connection
    connection_.begin_operation();
    connection_.open(target_.sqlite_path, config_.dry_run,
                     std::max<std::chrono::milliseconds>(config_.lock_timeout, kMinBusyTimeout),
                     config_.statement_timeout);
    logging::logger()->debug("connected to sqlite {}{}", target_.sqlite_path,
                             config_.dry_run ? " (read-only)" : "");
  }

  PreflightResult preflight() override {
    connection_.begin_operation();
    PreflightResult result;
    const Table pending = resolve(pending_, "pending table", "--pending-table");
    const Table users = resolve(users_, "users table", "--users-table");
    if (same_relation(pending, users)) {
      throw GuardError("guard 'distinct-tables' refused to run: the users table '" +
                       users_.display() + "' and the pending table '" + pending_.display() +
                       "' are the same relation. HINT: point --users-table and --pending-table "
                       "at two different tables");
    }
    if (pending.type != "table") {
      throw ConfigError("pending table '" + pending_.display() + "' is not a table (type " +
                        pending.type + ")");
    }
    const ColumnInfo& key = column(pending, config_.pending_key, "--pending-key", pending_);
    column(pending, config_.email_column, "--email-column", pending_);
    const ColumnInfo& users_email = column(users, config_.email_column, "--email-column", users_);
    if (!config_.dry_run &&
        sqlite3_db_readonly(connection_.handle(), pending.schema.c_str()) == 1) {
      throw ConfigError("permission denied: cannot delete from '" + pending_.display() +
                        "': the SQLite database file '" + connection_.path() +
                        "' is read-only. HINT: check the permissions of the file and of its "
                        "directory (SQLite writes a journal next to the file)");
    }
    if (!key_is_unique(pending, key)) {
      throw GuardError("guard 'unique-key' refused to run: the key column '" + config_.pending_key +
                       "' of '" + pending_.display() +
                       "' has no unique index, so a key may name several rows. HINT: pass the "
                       "primary key column with --pending-key, or add a UNIQUE constraint");
    }
    if (config_.match_email && config_.normalize_email == EmailNormalization::kNone &&
        !email_is_indexed(users, users_email)) {
      result.warnings.push_back(
          "no index on " + users_.display() + "(" + config_.email_column +
          "): every batch will scan the users table. HINT: " + create_index_statement(users));
    }

    // The rowid, under a name no column shadows; an INTEGER PRIMARY KEY key is the rowid too.
    std::string rowid;
    if (!pending.without_rowid) {
      for (const char* candidate : {"rowid", "_rowid_", "oid"}) {
        if (pending.find(candidate) == nullptr) {
          rowid = candidate;
          break;
        }
      }
      if (rowid.empty() && pending.is_rowid_alias(key)) rowid = key.name;
    }
    if (config_.batch_strategy == BatchStrategy::kPhysical && rowid.empty()) {
      throw ConfigError("--batch-strategy physical needs a rowid table, but '" +
                        pending_.display() + "' is " +
                        (pending.without_rowid ? "a WITHOUT ROWID table"
                                               : "a table whose rowid names are all shadowed") +
                        ". HINT: use --batch-strategy key or auto");
    }
    pending_info_ = pending;
    users_sql_ = users.quoted();
    const bool key_mode = config_.batch_strategy == BatchStrategy::kKey || rowid.empty();
    preflight_policies(pending, users, result);
    build_sql(pending.quoted(), users.quoted(),
              key_mode ? "p." + key_ : "p." + config::quote_identifier(rowid), key_mode);
    result.strategy = key_mode ? "key" : "rowid";
    return result;
  }

  std::int64_t count_candidates() override {
    connection_.begin_operation();
    refresh_cutoffs();
    Statement count(connection_, "SELECT count(*) FROM " + pending_sql_ + " p WHERE " + match_);
    bind_policy(count);
    count.step();
    return count.integer(0);
  }

  std::vector<PendingRow> sample_candidates(std::int64_t limit) override {
    connection_.begin_operation();
    refresh_cutoffs();
    Statement sample(connection_, "SELECT p." + key_ + ", p." + email_ + ", " + reason_expr("p") +
                                      " FROM " + pending_sql_ + " p WHERE " + match_ +
                                      " ORDER BY p." + key_ + " LIMIT ?1");
    sample.bind(1, std::max<std::int64_t>(0, limit));
    bind_policy(sample);
    std::vector<PendingRow> out;
    while (sample.step()) {
      out.push_back({sample.text(0), sample.text(1)});
      out.back().reason = sample.text(2);
    }
    return out;
  }

  PolicyPreview preview_policies() override {
    connection_.begin_operation();
    refresh_cutoffs();
    // One pass over the pending table; each policy's users side is a distinct set (SQLite
    // builds a transient index on it), so no policy scans users once per pending row.
    const bool normalizing =
        config_.match_email && config_.normalize_email != EmailNormalization::kNone;
    std::string joins;
    std::string inner = "1 AS one";
    if (config_.match_email) {
      joins += " LEFT JOIN (SELECT DISTINCT " + normalized("u." + email_) + " AS n FROM " +
               users_sql_ + " u) ue ON ue.n = " + normalized("p." + email_);
      inner += ", ue.n IS NOT NULL AS e";
      if (normalizing) {
        joins += " LEFT JOIN (SELECT DISTINCT u." + email_ + " AS n FROM " + users_sql_ +
                 " u) ux ON ux.n = p." + email_;
        inner += ", ux.n IS NOT NULL AS x";
      }
    }
    if (config_.match_phone) {
      joins += " LEFT JOIN (SELECT DISTINCT u." + phone_ + " AS n FROM " + users_sql_ +
               " u WHERE trim(u." + phone_ + ") <> '') up ON up.n = p." + phone_;
      inner += ", up.n IS NOT NULL AS ph";
    }
    std::string matched;
    if (config_.match_email) matched += "e";
    if (config_.match_phone) matched += std::string(matched.empty() ? "" : " OR ") + "ph";
    if (config_.expire_after.count() > 0) {
      inner += ", coalesce(" + expired("p") + ", 0) AS ex";
      matched += std::string(matched.empty() ? "" : " OR ") + "ex";
    }
    inner +=
        ", " +
        (config_.min_age.count() > 0 ? "coalesce(" + old_enough("p") + ", 0)" : std::string("1")) +
        " AS old";
    const std::string exempt = exclusions("p");
    inner += ", " + (exempt.empty() ? std::string("0") : "NOT (" + exempt + ")") + " AS keep";
    const std::string m = "(" + matched + ")";
    Statement counts(connection_, "SELECT " + std::string(config_.match_email ? "sum(e)" : "0") +
                                      ", " + (normalizing ? "sum(e AND NOT x)" : "0") + ", " +
                                      (config_.match_phone ? "sum(ph)" : "0") + ", " +
                                      (config_.expire_after.count() > 0 ? "sum(ex)" : "0") +
                                      ", sum(" + m + " AND NOT old), sum(" + m +
                                      " AND old AND keep) FROM (SELECT " + inner + " FROM " +
                                      pending_sql_ + " p" + joins + ") s");
    bind_policy(counts);
    counts.step();
    PolicyPreview preview;
    if (config_.match_email) preview.email = counts.integer(0);
    if (normalizing) preview.email_extra_from_normalization = counts.integer(1);
    if (config_.match_phone) preview.phone = counts.integer(2);
    if (config_.expire_after.count() > 0) preview.expired = counts.integer(3);
    if (config_.min_age.count() > 0) preview.kept_by_min_age = counts.integer(4);
    if (!exempt.empty()) preview.kept_by_exclusion = counts.integer(5);
    if (normalizing) {
      auto collisions = email_collisions(5);
      preview.users_email_collisions = collisions.count;
      preview.collision_sample = std::move(collisions.sample);
    }
    return preview;
  }

  void begin_pass() override {
    connection_.begin_operation();
    cursor_.reset();
    exhausted_ = false;
    first_locator_ = last_locator_ = 0;
    if (!key_mode_) {
      // Both ends of the rowid b-tree: O(log n), for progress only.
      Statement bounds(connection_, "SELECT min(" + locator_ + "), max(" + locator_ + ") FROM " +
                                        pending_sql_ + " p");
      if (bounds.step() && !bounds.is_null(0)) {
        first_locator_ = bounds.integer(0);
        last_locator_ = bounds.integer(1);
      }
    }
  }

  BatchResult run_next_batch(std::int64_t target_rows) override {
    target_rows = std::clamp<std::int64_t>(target_rows, 1, kMaxScanRows);
    const std::int64_t scan_rows =
        std::clamp(target_rows * kScanFactor, std::max(kMinScanRows, target_rows), kMaxScanRows);
    BatchResult result;
    auto phase_start = Clock::now();
    yield_to_other_writers();
    std::vector<Candidate> candidates;
    Value upper;  // inclusive upper bound of this batch's range; null: the end of the table
    bool end_of_table = false;
    bool isolate_each = false;
    {
      Transaction tx(connection_);
      const auto locked_at = Clock::now();
      refresh_cutoffs();  // one "now" for the batch's SELECT and DELETE (and any isolation)
      result.timings.wait_ms = ms_since(phase_start);  // yielding, then waiting for the lock
      phase_start = locked_at;
      // The batch's range: from the cursor to the target_rows-th matching row, but no further
      // than scan_rows rows, so a sparse table does not hold the write lock for a long scan.
      Value window_end = row_after_cursor(scan_rows - 1);
      candidates = select_matches(window_end.get(), target_rows);
      result.matched = static_cast<std::int64_t>(candidates.size());
      if (result.matched == target_rows) {
        upper.reset(sqlite3_value_dup(candidates.back().locator.get()));
        if (!upper) throw DatabaseError(ErrorKind::kFatal, "SQLITE_NOMEM", "out of memory");
      } else {
        upper = std::move(window_end);
        end_of_table = !upper;
      }
      result.timings.find_ms = ms_since(phase_start);
      phase_start = Clock::now();
      if (!candidates.empty() && !delete_batch(tx, upper.get(), candidates, result)) {
        logging::logger()->debug(
            "a trigger rolled back the transaction of a batch of {} rows; isolating rows",
            candidates.size());
        isolate_each = true;
      }
      result.timings.delete_ms = ms_since(phase_start);
      if (!isolate_each) {
        phase_start = Clock::now();
        try {
          commit_observed(tx, result.deleted_rows);
          result.timings.commit_ms = ms_since(phase_start);
          last_commit_ = Clock::now();
          last_hold_ = last_commit_ - locked_at;
        } catch (const DatabaseError& e) {
          if (e.kind() != ErrorKind::kRowLevel) throw;
          // A deferred constraint (DEFERRABLE INITIALLY DEFERRED foreign key) refused the
          // COMMIT: no savepoint can tell which row, so the rows are isolated by halves.
          logging::logger()->debug("commit of a batch of {} rows refused ({}: {}); isolating rows",
                                   candidates.size(), e.sqlstate(), e.what());
          isolate_each = true;
        }
      }
    }  // not committed: rolled back here
    if (isolate_each) {
      phase_start = Clock::now();
      result.deleted_rows.clear();
      result.failures.clear();
      isolate(candidates, result, /*known_refused=*/true);
      tally(result);
      result.timings.delete_ms += ms_since(phase_start);
    }

    tally_policies(result, single_reason_);
    // The batch is durable: advance the pass.
    if (upper) cursor_ = std::move(upper);
    if (end_of_table) exhausted_ = true;
    result.exhausted = exhausted_;
    if (exhausted_) {
      result.progress = 1.0;
    } else if (!key_mode_ && cursor_ && last_locator_ > first_locator_) {
      const long double done = static_cast<long double>(sqlite3_value_int64(cursor_.get())) -
                               static_cast<long double>(first_locator_) + 1;
      const long double total =
          static_cast<long double>(last_locator_) - static_cast<long double>(first_locator_) + 1;
      result.progress = static_cast<double>(std::clamp<long double>(done / total, 0, 1));
    }
    return result;
  }

  std::string explain_batch(std::int64_t target_rows) override {
    connection_.begin_operation();
    std::string out;
    const auto plan = [&](const std::string& title, const std::string& sql) {
      out += "-- " + title + "\n" + sql + "\n";
      Statement explain(connection_, "EXPLAIN QUERY PLAN " + sql);
      while (explain.step()) out += explain.text(3) + "\n";
      out += "\n";
    };
    plan("select the batch's matching rows (up to " + std::to_string(target_rows) + ")",
         "SELECT " + locator_ + ", p." + key_ + ", p." + email_ + " FROM " + pending_sql_ +
             " p WHERE " + locator_ + " > ?1 AND " + match_ + " ORDER BY " + locator_ +
             " LIMIT ?2");
    plan("delete the batch's range, predicate re-checked",
         "DELETE FROM " + pending_sql_ + " AS p WHERE " + locator_ + " > ?1 AND " + locator_ +
             " <= ?2 AND " + match_ + returning_);
    return out;
  }

  void record_run(const RunRecord& run) override {
    connection_.begin_operation();
    if (!history_ready_) {
      connection_.exec("CREATE TABLE IF NOT EXISTS " + history_.quoted() +
                       " (run_id INTEGER PRIMARY KEY, cycle_id TEXT NOT NULL, "
                       "started_at TEXT NOT NULL, finished_at TEXT NOT NULL, host TEXT NOT NULL, "
                       "mode TEXT NOT NULL, candidates INTEGER NOT NULL, deleted INTEGER NOT NULL, "
                       "failed INTEGER NOT NULL, skipped INTEGER NOT NULL, "
                       "batches INTEGER NOT NULL, duration_ms REAL NOT NULL, "
                       "outcome TEXT NOT NULL, error TEXT, job TEXT)");
      // A table of a version before jobs: the column is added once, on the first cycle.
      if (!history_has_job()) {
        try {
          connection_.exec("ALTER TABLE " + history_.quoted() + " ADD COLUMN job TEXT");
        } catch (const DatabaseError&) {
          if (!history_has_job()) throw;  // else another connection added it meanwhile
        }
      }
      history_ready_ = true;
    }
    Statement insert(connection_, "INSERT INTO " + history_.quoted() +
                                      " (cycle_id, started_at, finished_at, host, mode, "
                                      "candidates, deleted, failed, skipped, batches, "
                                      "duration_ms, outcome, error, job) VALUES (?1, ?2, ?3, ?4, "
                                      "?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, NULLIF(?13, ''), ?14)");
    insert.bind(1, run.cycle_id).bind(2, run.started_at).bind(3, run.finished_at);
    insert.bind(4, run.host).bind(5, run.mode).bind(6, run.candidates).bind(7, run.deleted);
    insert.bind(8, run.failed).bind(9, run.skipped).bind(10, run.batches);
    insert.bind(11, run.duration_ms).bind(12, run.outcome).bind(13, run.error);
    insert.bind(14, run.job);
    insert.step();
  }

  // Whether the (existing) history table has the job column.
  bool history_has_job() {
    Statement column(connection_,
                     history_.schema.empty()
                         ? "SELECT 1 FROM pragma_table_info(?1) WHERE name = 'job'"
                         : "SELECT 1 FROM pragma_table_info(?1, ?2) WHERE name = 'job'");
    column.bind(1, history_.name);
    if (!history_.schema.empty()) column.bind(2, history_.schema);
    return column.step();
  }

  std::vector<RunRecord> recent_runs(std::int64_t limit, const std::string& job) override {
    connection_.begin_operation();
    {
      Statement exists(connection_,
                       "SELECT 1 FROM pragma_table_list WHERE name = ?1 COLLATE NOCASE AND "
                       "(?2 = '' OR schema = ?2 COLLATE NOCASE)");
      exists.bind(1, history_.name).bind(2, history_.schema);
      if (!exists.step()) return {};
    }
    // Rows of a table from before jobs belong to the only job there was.
    const std::string job_column = history_has_job() ? "coalesce(job, 'default')" : "'default'";
    Statement select(connection_,
                     "SELECT cycle_id, started_at, finished_at, host, mode, candidates, deleted, "
                     "failed, skipped, batches, duration_ms, outcome, coalesce(error, ''), " +
                         job_column + " FROM " + history_.quoted() + " WHERE (?2 = '' OR " +
                         job_column + " = ?2) ORDER BY run_id DESC LIMIT ?1");
    select.bind(1, std::max<std::int64_t>(0, limit)).bind(2, job);
    std::vector<RunRecord> out;
    while (select.step()) {
      RunRecord run;
      run.cycle_id = select.text(0);
      run.started_at = select.text(1);
      run.finished_at = select.text(2);
      run.host = select.text(3);
      run.mode = select.text(4);
      run.candidates = select.integer(5);
      run.deleted = select.integer(6);
      run.failed = select.integer(7);
      run.skipped = select.integer(8);
      run.batches = select.integer(9);
      run.duration_ms = select.real(10);
      run.outcome = select.text(11);
      run.error = select.text(12);
      run.job = select.text(13);
      out.push_back(std::move(run));
    }
    return out;
  }

  void cancel() noexcept override { connection_.cancel(); }

  bool users_table_empty() override {
    Statement probe(connection_, "SELECT NOT EXISTS (SELECT 1 FROM " + users_sql_ + ")");
    probe.step();
    return probe.integer(0) != 0;
  }

  std::int64_t count_pending() override {
    Statement count(connection_, "SELECT count(*) FROM " + pending_sql_);
    count.step();
    return count.integer(0);
  }

  bool try_lock_instance() override { return lock_file_.try_lock(); }

  void set_commit_observer(CommitObserver* observer) override { observer_ = observer; }

  std::chrono::milliseconds replication_lag() override { return {}; }  // no replicas

  std::vector<std::string> existing_keys(const std::vector<std::string>& keys) override {
    connection_.begin_operation();
    Statement find(connection_, "SELECT 1 FROM " + pending_sql_ + " p WHERE CAST(p." + key_ +
                                    " AS TEXT) = ?1 LIMIT 1");
    std::vector<std::string> out;
    for (const auto& key : keys) {
      find.reset();
      find.bind(1, key);
      if (find.step()) out.push_back(key);
    }
    return out;
  }

  void unlock_instance() noexcept override { lock_file_.unlock(); }

  void prepare_archive(const std::string& cycle_id) override {
    const std::string archive = archive_sql();
    if (!archive_exists()) {
      std::string columns;
      for (const auto& column : pending_info_.columns) {
        columns += config::quote_identifier(column.name) + " " + safe_type(column.type) + ", ";
      }
      const std::string bare = archive_bare_name();
      connection_.exec("CREATE TABLE IF NOT EXISTS " + archive + " (" + columns +
                       "archived_at TEXT NOT NULL, cycle_id TEXT NOT NULL, reason TEXT NOT NULL)");
      connection_.exec("CREATE INDEX IF NOT EXISTS " +
                       config::quote_identifier(pending_info_.schema) + "." +
                       config::quote_identifier(bare + "_archived_at_idx") + " ON " +
                       config::quote_identifier(bare) + " (archived_at)");
      connection_.exec("CREATE INDEX IF NOT EXISTS " +
                       config::quote_identifier(pending_info_.schema) + "." +
                       config::quote_identifier(bare + "_cycle_id_idx") + " ON " +
                       config::quote_identifier(bare) + " (cycle_id)");
      logging::logger()->info("created archive table {}", config_.archive_table);
    }
    check_archive_columns();
    if (!archive_ready_) {
      // Connection-local (TEMP) objects: the database file's schema gains only the archive
      // table. The trigger fires for the rows this connection deletes, inside the deleting
      // statement, so a row is archived exactly when its deletion commits.
      std::string columns;
      std::string values;
      for (const auto& column : pending_info_.columns) {
        columns += config::quote_identifier(column.name) + ", ";
        values += "OLD." + config::quote_identifier(column.name) + ", ";
      }
      connection_.exec("CREATE TEMP TABLE IF NOT EXISTS bc_archive_context (cycle_id TEXT)");
      connection_.exec("DROP TRIGGER IF EXISTS temp.bc_archive_on_delete");
      connection_.exec("CREATE TEMP TRIGGER bc_archive_on_delete AFTER DELETE ON " +
                       pending_info_.quoted() + " BEGIN INSERT INTO " +
                       config::quote_identifier(archive_bare_name()) + " (" + columns +
                       "archived_at, cycle_id, reason) SELECT " + values +
                       "strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), cycle_id, " + reason_expr("OLD") +
                       " FROM temp.bc_archive_context; END");
      archive_ready_ = true;
    }
    connection_.exec("DELETE FROM temp.bc_archive_context");
    Statement set(connection_, "INSERT INTO temp.bc_archive_context (cycle_id) VALUES (?1)");
    set.bind(1, cycle_id);
    set.step();
  }

  std::int64_t purge_archive(std::chrono::milliseconds older_than,
                             std::int64_t batch_rows) override {
    if (!archive_exists()) return 0;
    const std::string archive = archive_sql();
    const std::string modifier =
        "-" + std::to_string(static_cast<double>(older_than.count()) / 1000.0) + " seconds";
    std::int64_t total = 0;
    while (true) {
      std::int64_t n = 0;
      {
        Transaction tx(connection_);
        Statement purge(connection_, "DELETE FROM " + archive +
                                         " WHERE rowid IN (SELECT rowid FROM " + archive +
                                         " WHERE archived_at < strftime('%Y-%m-%dT%H:%M:%fZ', "
                                         "'now', ?1) LIMIT ?2)");
        purge.bind(1, modifier).bind(2, batch_rows);
        purge.step();
        n = sqlite3_changes64(connection_.handle());
        tx.commit();
      }
      total += n;
      if (n < batch_rows) break;
    }
    return total;
  }

  RestoreResult restore(const RestoreRequest& request) override {
    connection_.begin_operation();
    if (!archive_exists()) {
      throw ConfigError("archive table '" + config_.archive_table +
                        "' does not exist. HINT: check --archive-table");
    }
    check_archive_columns();
    const std::string archive = archive_sql();
    const std::string filter =
        "(?1 = '' OR a.cycle_id = ?1) AND (?2 = '' OR a.archived_at >= "
        "strftime('%Y-%m-%dT%H:%M:%fZ', ?2))";
    const std::string key_conflict =
        "EXISTS (SELECT 1 FROM " + pending_sql_ + " x WHERE x." + key_ + " = a." + key_ + ")";
    const std::string email_conflict =
        "EXISTS (SELECT 1 FROM " + pending_sql_ + " x WHERE x." + email_ + " = a." + email_ + ")";
    const auto bind_filter = [&](Statement& statement) {
      statement.bind(1, request.cycle_id).bind(2, request.since);
    };
    RestoreResult result;
    std::optional<Transaction> tx;
    if (!config_.dry_run) tx.emplace(connection_);
    {
      Statement count(connection_, "SELECT count(*) FROM " + archive + " a WHERE " + filter);
      bind_filter(count);
      count.step();
      result.selected = count.integer(0);
    }
    {
      Statement conflicts(connection_, "SELECT a." + key_ + ", a." + email_ + ", " + key_conflict +
                                           " FROM " + archive + " a WHERE " + filter + " AND (" +
                                           key_conflict + " OR " + email_conflict +
                                           ") ORDER BY a." + key_ + " LIMIT 1000");
      bind_filter(conflicts);
      while (conflicts.step()) {
        result.conflicts.push_back({{conflicts.text(0), conflicts.text(1)},
                                    conflicts.integer(2) != 0
                                        ? "key exists in the pending table"
                                        : "email exists in the pending table"});
      }
    }
    if (config_.dry_run) {
      Statement count(connection_, "SELECT count(DISTINCT a." + key_ + ") FROM " + archive +
                                       " a WHERE " + filter + " AND NOT " + key_conflict +
                                       " AND NOT " + email_conflict);
      bind_filter(count);
      count.step();
      result.restored = count.integer(0);
    } else {
      // The newest archived copy of each key first; the pending table's write lock is held, so
      // the conflict checks and the inserts see the same table.
      std::vector<std::int64_t> rowids;
      {
        Statement list(connection_, "SELECT a.rowid FROM " + archive + " a WHERE " + filter +
                                        " ORDER BY a." + key_ + ", a.archived_at DESC");
        bind_filter(list);
        while (list.step()) rowids.push_back(list.integer(0));
      }
      std::string columns;
      for (const auto& column : pending_info_.columns) {
        if (column.hidden != 0) continue;  // generated: computed again on insert
        if (!columns.empty()) columns += ", ";
        columns += config::quote_identifier(column.name);
      }
      Statement insert(connection_, "INSERT INTO " + pending_sql_ + " (" + columns + ") SELECT " +
                                        columns + " FROM " + archive +
                                        " a WHERE a.rowid = ?1 AND NOT " + key_conflict +
                                        " AND NOT " + email_conflict + " ON CONFLICT DO NOTHING");
      Statement remove(connection_, "DELETE FROM " + archive + " WHERE rowid = ?1");
      for (const auto rowid : rowids) {
        insert.reset();
        insert.bind(1, rowid);
        insert.step();
        if (sqlite3_changes64(connection_.handle()) == 0) continue;
        remove.reset();
        remove.bind(1, rowid);
        remove.step();
        ++result.restored;
      }
    }
    if (tx) tx->commit();
    result.skipped = result.selected - result.restored;
    return result;
  }

 private:
  // A row of a DELETE ... RETURNING key, email[, json].
  PendingRow returned_row(const Statement& statement) const {
    return {statement.text(0), statement.text(1),
            config_.archive_file.empty() ? std::string() : statement.text(2)};
  }

  // COMMIT, with the commit observer (the archive file) told before and after.
  void commit_observed(Transaction& tx, const std::vector<PendingRow>& rows) {
    CommitObserver* observer = rows.empty() ? nullptr : observer_;
    if (observer != nullptr) observer->before_commit(rows);
    try {
      tx.commit();
    } catch (...) {
      if (observer != nullptr) observer->after_commit(false);
      throw;
    }
    if (observer != nullptr) observer->after_commit(true);
  }

  // The archive table, in the pending table's database (SQLite triggers insert into
  // unqualified names, so it cannot live in another attached database).
  std::string archive_bare_name() const {
    const auto name = config::parse_table_name(config_.archive_table, "archive table");
    if (!name.schema.empty() && !equal_nocase(name.schema, pending_info_.schema)) {
      throw ConfigError(
          "invalid --archive-table '" + config_.archive_table +
          "': on SQLite the archive table must be in the pending table's database ('" +
          pending_info_.schema + "')");
    }
    return name.name;
  }

  std::string archive_sql() const {
    if (config_.archive_table.empty()) throw ConfigError("no --archive-table configured");
    return config::quote_identifier(pending_info_.schema) + "." +
           config::quote_identifier(archive_bare_name());
  }

  bool archive_exists() {
    Statement find(connection_, "SELECT 1 FROM " + config::quote_identifier(pending_info_.schema) +
                                    ".sqlite_schema WHERE type = 'table' AND name = ?1 COLLATE "
                                    "NOCASE");
    find.bind(1, archive_bare_name());
    return find.step();
  }

  void check_archive_columns() {
    const std::string bare = archive_bare_name();
    if (equal_nocase(bare, pending_info_.name) || equal_nocase(bare, users_.name)) {
      throw ConfigError("invalid --archive-table '" + config_.archive_table +
                        "': it is the users or pending table; use a table of its own");
    }
    Statement columns(connection_, "SELECT name FROM pragma_table_xinfo(?1, ?2)");
    columns.bind(1, bare).bind(2, pending_info_.schema);
    std::vector<std::string> names;
    while (columns.step()) names.push_back(columns.text(0));
    std::vector<std::string> needed = {"archived_at", "cycle_id", "reason"};
    for (const auto& column : pending_info_.columns) needed.push_back(column.name);
    for (const auto& name : needed) {
      const bool found = std::any_of(names.begin(), names.end(),
                                     [&](const std::string& n) { return equal_nocase(n, name); });
      if (!found) {
        throw ConfigError("archive table '" + config_.archive_table + "' has no column '" + name +
                          "'. HINT: an archive table needs the pending table's columns plus "
                          "archived_at, cycle_id and reason; name a new table and it is created");
      }
    }
  }

  // A declared column type copied into the archive's DDL: kept only when it is plain words,
  // digits, spaces, parentheses and commas (as in VARCHAR(255)); otherwise no type.
  static std::string safe_type(const std::string& type) {
    const bool plain = std::all_of(type.begin(), type.end(), [](char c) {
      return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
             c == ' ' || c == '(' || c == ')' || c == ',' || c == '_';
    });
    return plain ? type : std::string();
  }

  void yield_to_other_writers() {
    if (last_commit_ == Clock::time_point{}) return;
    const auto gap = std::min<Clock::duration>(last_hold_, kMaxYield);
    const auto resume = last_commit_ + gap;
    if (Clock::now() < resume) std::this_thread::sleep_until(resume);
  }

  // Finds a table (or view) by name; unqualified names are looked up the way SQLite does
  // (temp, main, then attached databases in order).
  Table resolve(const config::QualifiedName& name, const char* what, const char* flag) {
    Table table;
    {
      Statement find(
          connection_,
          "SELECT t.schema, t.name, t.type, t.wr FROM pragma_table_list t "
          "LEFT JOIN pragma_database_list d ON d.name = t.schema "
          "WHERE t.name = ?1 COLLATE NOCASE AND (?2 = '' OR t.schema = ?2 COLLATE NOCASE) "
          "ORDER BY CASE WHEN t.schema = 'temp' THEN -1 ELSE coalesce(d.seq, 1000000) END "
          "LIMIT 1");
      find.bind(1, name.name).bind(2, name.schema);
      if (!find.step()) {
        throw ConfigError(std::string(what) + " '" + name.display() +
                          "' does not exist. HINT: check " + flag +
                          " and the schema (an attached database name such as main)");
      }
      table.schema = find.text(0);
      table.name = find.text(1);
      table.type = find.text(2);
      table.without_rowid = find.integer(3) != 0;
    }
    Statement columns(connection_, "SELECT name, type, pk, hidden FROM pragma_table_xinfo(?1, ?2)");
    columns.bind(1, table.name).bind(2, table.schema);
    while (columns.step()) {
      table.columns.push_back({columns.text(0), columns.text(1),
                               static_cast<int>(columns.integer(2)),
                               static_cast<int>(columns.integer(3))});
    }
    return table;
  }

  // One relation under two names: the same schema, or one database file attached twice.
  bool same_relation(const Table& a, const Table& b) const {
    if (!equal_nocase(a.name, b.name)) return false;
    if (equal_nocase(a.schema, b.schema)) return true;
    sqlite3* db = connection_.handle();
    const char* file_a = sqlite3_db_filename(db, a.schema.c_str());
    const char* file_b = sqlite3_db_filename(db, b.schema.c_str());
    return file_a != nullptr && file_b != nullptr && file_a[0] != '\0' &&
           std::string_view(file_a) == std::string_view(file_b);
  }

  const ColumnInfo& column(const Table& table, const std::string& name, const char* flag,
                           const config::QualifiedName& display) {
    const ColumnInfo* found = table.find(name);
    if (found == nullptr) {
      throw ConfigError("column '" + name + "' does not exist in table '" + display.display() +
                        "'. HINT: check " + flag);
    }
    return *found;
  }

  // The key names one row: a single-column primary key (the rowid alias, or the primary key of
  // a WITHOUT ROWID table), or a single-column UNIQUE index without a WHERE clause.
  bool key_is_unique(const Table& table, const ColumnInfo& key) {
    if (key.pk == 1 && table.primary_key_columns() == 1) return true;
    for (const auto& index : indexes(table, /*unique_only=*/true)) {
      Statement info(connection_, "SELECT name FROM pragma_index_info(?1, ?2)");
      info.bind(1, index).bind(2, table.schema);
      int key_columns = 0;
      bool is_key = false;
      while (info.step()) {
        ++key_columns;
        is_key = !info.is_null(0) && equal_nocase(info.text(0), key.name);
      }
      if (key_columns == 1 && is_key) return true;
    }
    return false;
  }

  // Whether the EXISTS probe on users(email) can use an index: a non-partial index whose first
  // column is the email column with the column's collation, or the rowid itself.
  bool email_is_indexed(const Table& users, const ColumnInfo& email) {
    if (users.type != "table" || users.is_rowid_alias(email)) return true;
    const char* declared = nullptr;
    sqlite3_table_column_metadata(connection_.handle(), users.schema.c_str(), users.name.c_str(),
                                  email.name.c_str(), nullptr, &declared, nullptr, nullptr,
                                  nullptr);
    const std::string collation = declared != nullptr ? declared : "BINARY";
    for (const auto& index : indexes(users, /*unique_only=*/false)) {
      Statement info(connection_,
                     "SELECT name, coll FROM pragma_index_xinfo(?1, ?2) WHERE seqno = 0");
      info.bind(1, index).bind(2, users.schema);
      if (info.step() && !info.is_null(0) && equal_nocase(info.text(0), email.name) &&
          equal_nocase(info.text(1), collation)) {
        return true;
      }
    }
    return false;
  }

  // Names of the table's indexes without a WHERE clause.
  std::vector<std::string> indexes(const Table& table, bool unique_only) {
    Statement list(connection_,
                   "SELECT name FROM pragma_index_list(?1, ?2) WHERE partial = 0 AND (?3 = 0 OR "
                   "\"unique\" = 1)");
    list.bind(1, table.name).bind(2, table.schema).bind(3, std::int64_t{unique_only ? 1 : 0});
    std::vector<std::string> names;
    while (list.step()) names.push_back(list.text(0));
    return names;
  }

  // CREATE INDEX advice, with an index name not yet taken in the users table's schema. SQLite
  // puts the schema on the index name; the table name stays unqualified.
  std::string create_index_statement(const Table& users) {
    const std::string base = "idx_" + users.name + "_" + email_column_name(users);
    std::string name = base;
    for (int suffix = 2; suffix < 100; ++suffix) {
      Statement taken(connection_, "SELECT 1 FROM " + config::quote_identifier(users.schema) +
                                       ".sqlite_schema WHERE name = ?1 COLLATE NOCASE");
      taken.bind(1, name);
      if (!taken.step()) break;
      name = base + "_" + std::to_string(suffix);
    }
    const std::string qualified_index =
        (users_.schema.empty() ? "" : config::quote_identifier(users_.schema) + ".") +
        config::quote_identifier(name);
    return "CREATE INDEX " + qualified_index + " ON " + config::quote_identifier(users_.name) +
           " (" + email_ + ");";
  }

  std::string email_column_name(const Table& users) const {
    const ColumnInfo* found = users.find(config_.email_column);
    return found != nullptr ? found->name : config_.email_column;
  }

  void build_sql(const std::string& pending, const std::string& users, std::string locator,
                 bool key_mode) {
    pending_sql_ = pending;
    locator_ = std::move(locator);
    key_mode_ = key_mode;
    users_sql_ = users;
    match_ = predicate("p");
    // RETURNING names columns unqualified: SQLite 3.40 rejects p.col there on WITHOUT ROWID tables.
    returning_ = " RETURNING " + key_ + ", " + email_;
    if (!config_.archive_file.empty()) {
      // The whole row for the archive file; BLOBs as hex (JSON has no bytes).
      std::string fields;
      for (const auto& column : pending_info_.columns) {
        const std::string quoted = config::quote_identifier(column.name);
        std::string literal = column.name;  // a name from the schema: escape its quotes
        for (std::size_t at = 0; (at = literal.find('\'', at)) != std::string::npos; at += 2) {
          literal.insert(at, 1, '\'');
        }
        fields += (fields.empty() ? "" : ", ") +
                  ("'" + literal + "', CASE typeof(" + quoted + ") WHEN 'blob' THEN hex(" + quoted +
                   ") ELSE " + quoted + " END");
      }
      returning_ += ", json_object(" + fields + ")";
    }
    delete_one_sql_ = "DELETE FROM " + pending_sql_ + " AS p WHERE " + locator_ + " = ?1 AND " +
                      match_ + returning_;
  }

  // ---- The deletion predicate: policies (email, phone, expired) OR-ed, then the protections
  // (min-age, exclusions) AND-ed, over the row named `row` (p, or OLD in the archive trigger).
  // Policy values are bound to the fixed parameters ?101.. (bind_policy), after any statement's
  // own ?1, ?2.

  std::string normalized(const std::string& column) const {
    return normalized_email(config_.normalize_email, column);
  }
  std::string email_exists(const std::string& row) const {
    return "EXISTS (SELECT 1 FROM " + users_sql_ + " u WHERE " + normalized("u." + email_) + " = " +
           normalized(row + "." + email_) + ")";
  }
  // An empty (or blank) phone never matches, even when a user has one too.
  std::string phone_exists(const std::string& row) const {
    return "(trim(" + row + "." + phone_ + ") <> '' AND EXISTS (SELECT 1 FROM " + users_sql_ +
           " u WHERE u." + phone_ + " = " + row + "." + phone_ + "))";
  }
  // Creation times: ISO-8601 text (UTC unless it carries an offset), a Julian day number, or
  // Unix seconds ('auto'); anything else reads as NULL: never expired, never old enough.
  // The cutoffs are Julian day numbers fixed per batch (refresh_cutoffs): SQLite reads 'now'
  // anew in every statement, and the candidates' SELECT and the DELETE must agree.
  std::string expired(const std::string& row) const {
    return "julianday(" + row + "." + created_ + ", 'auto') < ?" + std::to_string(kExpireParam);
  }
  std::string old_enough(const std::string& row) const {
    return "julianday(" + row + "." + created_ + ", 'auto') <= ?" + std::to_string(kMinAgeParam);
  }

  // Fixes "now" for the statements that follow (one batch, one count, one sample).
  void refresh_cutoffs() {
    if (created_.empty()) return;
    const auto modifier = [](std::chrono::milliseconds age) {
      return fmt::format("-{:.3f} seconds", static_cast<double>(age.count()) / 1000.0);
    };
    Statement now(connection_, "SELECT julianday('now', ?1), julianday('now', ?2)");
    now.bind(1, modifier(config_.min_age)).bind(2, modifier(config_.expire_after));
    now.step();
    min_age_cutoff_ = now.real(0);
    expire_cutoff_ = now.real(1);
  }
  // True when the row is not exempt; empty without exemptions.
  std::string exclusions(const std::string& row) const {
    std::string out;
    const std::string email = "lower(trim(" + row + "." + email_ + "))";
    if (!config_.exclude_emails.empty()) {
      out = "NOT coalesce(" + email + " IN (SELECT value FROM json_each(?" +
            std::to_string(kExcludedEmailsParam) + ")), 0)";
    }
    if (!config_.exclude_domains.empty()) {
      out += (out.empty() ? "" : " AND ") + std::string("NOT EXISTS (SELECT 1 FROM json_each(?") +
             std::to_string(kExcludedDomainsParam) + ") d WHERE substr(" + email +
             ", -length(d.value) - 1) = '@' || d.value)";
    }
    return out;
  }
  PolicySql policy_sql(const std::string& row) const {
    PolicySql sql;
    if (config_.match_email) sql.email = email_exists(row);
    if (config_.match_phone) sql.phone = phone_exists(row);
    if (config_.expire_after.count() > 0) sql.expired = expired(row);
    if (config_.min_age.count() > 0) sql.old_enough = old_enough(row);
    sql.not_exempt = exclusions(row);
    return sql;
  }
  std::string predicate(const std::string& row) const {
    return deletion_predicate(policy_sql(row));
  }
  // The reason of a deleted row. The expiry condition is never tested there (it is the last),
  // so the expression binds no parameter: the archive trigger can use it.
  std::string reason_expr(const std::string& row) const {
    return reason_expression(policy_sql(row));
  }

  // Binds the policy values to the parameters of `statement` that use them.
  void bind_policy(Statement& statement) const {
    const int count = statement.parameter_count();
    if (count >= kMinAgeParam && config_.min_age.count() > 0) {
      statement.bind(kMinAgeParam, min_age_cutoff_);
    }
    if (count >= kExpireParam && config_.expire_after.count() > 0) {
      statement.bind(kExpireParam, expire_cutoff_);
    }
    if (count >= kExcludedEmailsParam) statement.bind(kExcludedEmailsParam, excluded_emails_);
    if (count >= kExcludedDomainsParam) statement.bind(kExcludedDomainsParam, excluded_domains_);
  }

  // The exclusion lists as JSON arrays, lowercased and trimmed by SQLite itself (so that both
  // sides of the comparison use the same lower()).
  void prepare_exclusions() {
    const auto normalize = [&](const std::vector<std::string>& values) {
      Statement statement(
          connection_, "SELECT json_group_array(DISTINCT lower(trim(value))) FROM json_each(?1)");
      statement.bind(1, nlohmann::json(values).dump());
      statement.step();
      return statement.text(0);
    };
    std::vector<std::string> emails;
    for (const auto& email : config_.exclude_emails) emails.push_back(exclusion_email(email));
    excluded_emails_ = normalize(emails);
    std::vector<std::string> domains;
    for (const auto& domain : config_.exclude_domains) domains.push_back(exclusion_domain(domain));
    excluded_domains_ = normalize(domains);
  }

  // Whether an index of the users table serves `users_side = ?` (SQLite's query planner).
  bool users_index_serves(const std::string& users_side) {
    Statement plan(connection_, "EXPLAIN QUERY PLAN SELECT 1 FROM " + users_sql_ + " u WHERE " +
                                    users_side + " = ?1");
    while (plan.step()) {
      const std::string detail = plan.text(3);
      // "SEARCH u USING INDEX ...": a lookup; "SCAN u USING COVERING INDEX" reads it all.
      if (detail.rfind("SEARCH", 0) == 0 && detail.find("INDEX") != std::string::npos) return true;
    }
    return false;
  }

  EmailCollisions email_collisions(int sample_size) {
    Statement rows(connection_, "SELECT n, count(*) OVER () FROM (SELECT " +
                                    normalized("u." + email_) + " AS n FROM " + users_sql_ +
                                    " u WHERE u." + email_ +
                                    " IS NOT NULL GROUP BY 1 HAVING count(*) > 1) ORDER BY n "
                                    "LIMIT ?1");
    rows.bind(1, std::int64_t{sample_size});
    EmailCollisions out;
    while (rows.step()) {
      out.count = rows.integer(1);
      out.sample.push_back(rows.text(0));
    }
    return out;
  }

  // Preflight for the policies beyond exact email: columns, supporting indexes.
  void preflight_policies(const Table& pending, const Table& users, PreflightResult& result) {
    if (config_.match_email && config_.normalize_email != EmailNormalization::kNone) {
      if (!users_index_serves(normalized("u." + email_))) {
        const std::string name =
            "idx_" + users.name + "_email_" +
            (config_.normalize_email == EmailNormalization::kLower ? "lower" : "lower_trim");
        result.warnings.push_back(
            "no index on " + users_.display() + " supports " + normalized(email_) +
            " (--normalize-email): every batch will scan the users table. HINT: CREATE INDEX " +
            (users_.schema.empty() ? "" : config::quote_identifier(users_.schema) + ".") +
            config::quote_identifier(name) + " ON " + config::quote_identifier(users_.name) + " (" +
            normalized(email_) + ");");
      }
      if (const auto n = email_collisions(1).count; n > 0) {
        result.warnings.push_back(collision_warning(n, users_.display()));
      }
    }
    if (config_.match_phone) {
      column(pending, config_.phone_column, "--phone-column", pending_);
      column(users, config_.phone_column, "--phone-column", users_);
      if (!users_index_serves("u." + phone_)) {
        result.warnings.push_back(
            "no index on " + users_.display() + "(" + config_.phone_column +
            "): every batch will scan the users table for phones. HINT: CREATE INDEX " +
            config::quote_identifier("idx_" + users.name + "_" + config_.phone_column) + " ON " +
            config::quote_identifier(users_.name) + " (" + phone_ + ");");
      }
    }
    if (!created_.empty()) {
      column(pending, config_.created_column, "--created-column", pending_);
      if (config_.created_time_zone != "UTC") {
        throw ConfigError(
            "--created-time-zone '" + config_.created_time_zone +
            "' works on PostgreSQL only: SQLite reads creation times without an "
            "offset as UTC. HINT: store times with their offset (…+02:00), or in UTC");
      }
    }
    prepare_exclusions();
  }

  // "<locator> > ?1" after the cursor, or "<locator> IS NOT NULL" at the start of a pass (rows
  // with a NULL key are never addressed by key batches).
  std::string lower_bound() const {
    return cursor_ ? locator_ + " > ?1" : locator_ + " IS NOT NULL";
  }
  int bind_lower(Statement& statement) const {
    if (!cursor_) return 1;
    statement.bind(1, cursor_.get());
    return 2;
  }

  // The locator of the offset-th row after the cursor (0-based), or null past the end.
  Value row_after_cursor(std::int64_t offset) {
    Statement find(connection_, "SELECT " + locator_ + " FROM " + pending_sql_ + " p WHERE " +
                                    lower_bound() + " ORDER BY " + locator_ + " LIMIT 1 OFFSET ?" +
                                    std::to_string(cursor_ ? 2 : 1));
    find.bind(bind_lower(find), offset);
    if (!find.step()) return nullptr;
    return find.value(0);
  }

  // Up to `limit` matching rows after the cursor, no further than `upper` (when not null).
  std::vector<Candidate> select_matches(const sqlite3_value* upper, std::int64_t limit) {
    const int first = cursor_ ? 2 : 1;
    const std::string upper_sql =
        upper != nullptr ? " AND " + locator_ + " <= ?" + std::to_string(first) : "";
    Statement select(connection_, "SELECT " + locator_ + ", p." + key_ + ", p." + email_ + ", " +
                                      reason_expr("p") + " FROM " + pending_sql_ + " p WHERE " +
                                      lower_bound() + upper_sql + " AND " + match_ + " ORDER BY " +
                                      locator_ + " LIMIT ?" +
                                      std::to_string(upper != nullptr ? first + 1 : first));
    int next = bind_lower(select);
    if (upper != nullptr) select.bind(next++, upper);
    select.bind(next, limit);
    bind_policy(select);
    std::vector<Candidate> out;
    while (select.step()) {
      out.push_back({select.value(0), {select.text(1), select.text(2)}});
      out.back().row.reason = select.text(3);
    }
    return out;
  }

  // Deletes the batch's range with the predicate re-checked, in one statement under a
  // savepoint. BEGIN IMMEDIATE holds the write lock, so the range holds exactly the selected
  // candidates. When a constraint or trigger refuses, retries row by row, each under its own
  // savepoint, recording the refused rows. Returns false when SQLite rolled the whole
  // transaction back (a trigger's RAISE(ROLLBACK, ...)): the caller then isolates the rows.
  bool delete_batch(const Transaction& tx, const sqlite3_value* upper,
                    const std::vector<Candidate>& candidates, BatchResult& result) {
    connection_.exec("SAVEPOINT bc_batch");
    try {
      const int first = cursor_ ? 2 : 1;
      Statement range(connection_,
                      "DELETE FROM " + pending_sql_ + " AS p WHERE " + lower_bound() +
                          (upper != nullptr ? " AND " + locator_ + " <= ?" + std::to_string(first)
                                            : std::string()) +
                          " AND " + match_ + returning_);
      const int next = bind_lower(range);
      if (upper != nullptr) range.bind(next, upper);
      bind_policy(range);
      // Under the write lock the rows and users cannot change between the SELECT of the
      // candidates and this DELETE: each deleted row's reason is its candidate's.
      std::unordered_map<std::string, const std::string*> reasons;
      for (const auto& candidate : candidates) reasons[candidate.row.key] = &candidate.row.reason;
      while (range.step()) {
        result.deleted_rows.push_back(returned_row(range));
        const auto found = reasons.find(result.deleted_rows.back().key);
        if (found != reasons.end()) result.deleted_rows.back().reason = *found->second;
      }
    } catch (const DatabaseError& e) {
      if (e.kind() != ErrorKind::kRowLevel) throw;
      result.deleted_rows.clear();
      if (!tx.active()) return false;
      logging::logger()->debug("batch of {} rows refused ({}: {}); retrying row by row",
                               candidates.size(), e.sqlstate(), e.what());
      connection_.exec("ROLLBACK TO SAVEPOINT bc_batch");
      Statement one(connection_, delete_one_sql_);
      bind_policy(one);
      for (const auto& candidate : candidates) {
        if (delete_row(tx, one, candidate, result)) return false;
      }
    }
    connection_.exec("RELEASE SAVEPOINT bc_batch");
    tally(result);
    return true;
  }

  // Deletes one candidate (predicate re-checked) under a savepoint of `tx`, adding it to
  // out.deleted_rows, or to out.failures when a constraint or trigger refuses it. Returns the
  // refusal instead when it rolled back the whole transaction (RAISE(ROLLBACK, ...)).
  std::optional<RowError> delete_row(const Transaction& tx, Statement& one,
                                     const Candidate& candidate, BatchResult& out) {
    connection_.exec("SAVEPOINT bc_row");
    try {
      one.reset();
      one.bind(1, candidate.locator.get());
      while (one.step()) {
        out.deleted_rows.push_back(returned_row(one));
        out.deleted_rows.back().reason = candidate.row.reason;
      }
      connection_.exec("RELEASE SAVEPOINT bc_row");
    } catch (const DatabaseError& e) {
      if (e.kind() != ErrorKind::kRowLevel) throw;
      one.reset();
      RowError refusal{candidate.row, e.sqlstate(), e.what()};
      if (!tx.active()) return refusal;
      connection_.exec("ROLLBACK TO SAVEPOINT bc_row");
      connection_.exec("RELEASE SAVEPOINT bc_row");
      out.failures.push_back(std::move(refusal));
    }
    return std::nullopt;
  }

  // The fallback when the batch's rows cannot be told apart inside one transaction (a deferred
  // constraint refused the COMMIT, or a trigger rolled the transaction back): the rows are
  // split in halves, each half tried in its own transaction, until every refused row stands
  // alone. k refused rows cost about 2k*log2(n/k) short transactions, not n.
  void isolate(std::span<const Candidate> rows, BatchResult& result, bool known_refused) {
    if (rows.empty()) return;
    if (rows.size() > 1 && known_refused) {
      const auto half = rows.size() / 2;
      isolate(rows.first(half), result, false);
      isolate(rows.subspan(half), result, false);
      return;
    }
    auto refusal = delete_in_own_transaction(rows, result);
    if (!refusal) return;
    if (rows.size() == 1) {
      result.failures.push_back(std::move(*refusal));
      return;
    }
    isolate(rows, result, true);
  }

  // Deletes `rows` in one transaction (rows refused at once are recorded, under savepoints);
  // returns the refusal, with nothing committed, when the transaction as a whole was refused.
  std::optional<RowError> delete_in_own_transaction(std::span<const Candidate> rows,
                                                    BatchResult& result) {
    BatchResult part;
    {
      Transaction tx(connection_);
      {
        Statement one(connection_, delete_one_sql_);
        bind_policy(one);
        for (const auto& candidate : rows) {
          if (auto refusal = delete_row(tx, one, candidate, part)) return refusal;
        }
      }
      try {
        commit_observed(tx, part.deleted_rows);
      } catch (const DatabaseError& e) {
        if (e.kind() != ErrorKind::kRowLevel) throw;
        return RowError{rows.front().row, e.sqlstate(), e.what()};
      }
    }
    for (auto& row : part.deleted_rows) result.deleted_rows.push_back(std::move(row));
    for (auto& failure : part.failures) result.failures.push_back(std::move(failure));
    return std::nullopt;
  }

  static void tally(BatchResult& result) {
    result.deleted = static_cast<std::int64_t>(result.deleted_rows.size());
    result.skipped = 0;  // SQLite has no row locks: the batch holds the database's write lock
    result.no_longer_matching =
        result.matched - result.deleted - static_cast<std::int64_t>(result.failures.size());
  }

  CleanupConfig config_;
  config::DatabaseTarget target_;
  Connection connection_;
  config::QualifiedName pending_;
  config::QualifiedName users_;
  std::string key_;
  std::string email_;
  config::QualifiedName history_;
  bool history_ready_ = false;

  // SQL fragments, from the names preflight resolved.
  std::string pending_sql_;  // "schema"."table"
  std::string locator_;      // p."rowid" or p."key": the order batches follow
  bool key_mode_ = false;
  std::string match_;
  std::string returning_;
  std::string phone_;          // quoted --phone-column (with --match phone)
  std::string created_;        // quoted --created-column (with --expire-after or --min-age)
  std::string single_reason_;  // the reason of every deleted row; empty with several policies
  double min_age_cutoff_ = 0;  // Julian days: rows created after it are too young
  double expire_cutoff_ = 0;   // Julian days: rows created before it are expired
  std::string excluded_emails_ = "[]";   // JSON array, normalised by prepare_exclusions()
  std::string excluded_domains_ = "[]";  // JSON array, normalised by prepare_exclusions()
  std::string delete_one_sql_;

  Table pending_info_;     // as resolved by preflight
  std::string users_sql_;  // "schema"."users"
  LockFile lock_file_{target_.sqlite_path + ".lock"};
  bool archive_ready_ = false;  // the TEMP trigger exists on this connection
  CommitObserver* observer_ = nullptr;

  // Pass state; advanced only after a batch commits.
  Value cursor_;  // the last locator covered; null at the start of a pass
  bool exhausted_ = false;
  std::int64_t first_locator_ = 0;  // rowid range at begin_pass(), for progress
  std::int64_t last_locator_ = 0;
  Clock::time_point last_commit_{};  // when the last batch released the write lock
  Clock::duration last_hold_{};      // how long it held it
};

}  // namespace

std::unique_ptr<CleanupStore> make_sqlite_store(const CleanupConfig& config,
                                                const config::DatabaseTarget& target) {
  return std::make_unique<SqliteStore>(config, target);
}

}  // namespace batch_cleanup::store
