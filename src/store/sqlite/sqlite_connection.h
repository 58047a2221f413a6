// The SQLite connection layer: the handle with error translation, cancel and statement timeout;
// prepared statements; and an RAII write transaction. Used by the SQLite store only.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "batch_cleanup/errors.h"
#include "store/sql/builder.h"
#include "store/sql/value.h"

namespace batch_cleanup::store::sqlite {

using Clock = std::chrono::steady_clock;

// "SQLITE_CONSTRAINT_FOREIGNKEY" for an (extended) result code; "SQLITE_<n>" when unknown.
std::string code_name(int code);

// The cause a result code reports (errors.h): lock waits, interruptions and rolled-back
// statements are retried, constraint and trigger refusals isolate the row, everything else (I/O,
// corruption, read-only, schema) is fatal.
ErrorCause cause_of(int code);

// ASCII case-insensitive equality (SQLite's identifiers).
bool equal_nocase(std::string_view a, std::string_view b);

struct ValueFree {
  void operator()(sqlite3_value* value) const noexcept { sqlite3_value_free(value); }
};
// A copy of a column value with its storage class, used as a batch bound (rowid or key).
using OwnedValue = std::unique_ptr<sqlite3_value, ValueFree>;

class SqliteStatement;

// The handle, error translation, cancel and statement timeout, and the statements kept
// prepared on the handle.
class SqliteConnection {
 public:
  SqliteConnection();
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;
  ~SqliteConnection();

  // Opens an existing database file; closes any previous handle first. `cache_kib` sizes the
  // handle's page cache (0: SQLite's default); nothing persistent in the file is touched.
  void open(const std::string& path, bool read_only, std::chrono::milliseconds busy_timeout,
            std::chrono::milliseconds statement_timeout, std::int64_t cache_kib = 0);

  // Finalizes the kept statements, then closes the handle, which rolls back an open
  // transaction and releases the file's locks. A statement still prepared would keep the
  // handle (and its write lock) alive as a zombie.
  void close() noexcept;

  // The statement `sql`, prepared on the first call and kept until close(): statements run in
  // every batch are prepared once per connection. The caller binds it and, when done, resets
  // it (SqliteReset); it is shared by every caller passing the same text. Throws DatabaseError.
  SqliteStatement& kept(const std::string& sql);

  // The handle, or a retryable error when there is none (the engine reconnects).
  sqlite3* handle() const {
    if (db_ == nullptr) {
      throw DatabaseError(ErrorCause::kConnectionLost, "", "not connected to the SQLite database");
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
  [[noreturn]] void fail(int rc) const;

  // Runs one statement without parameters, discarding rows.
  void exec(const std::string& sql);
  // The same with the statement kept prepared (statements of every batch).
  void exec_kept(const std::string& sql);

  // ROLLBACK when a transaction is open; never throws. If even that fails, the handle is closed
  // (which rolls back) so that no write lock outlives the batch.
  void rollback_quietly() noexcept;

 private:
  static int on_progress(void* self) noexcept {
    auto* connection = static_cast<SqliteConnection*>(self);
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
  std::unordered_map<std::string, std::unique_ptr<SqliteStatement>> kept_;
  mutable std::mutex cancel_mutex_;  // guards db_ between cancel() and close()
  std::atomic<bool> cancel_requested_{false};
  std::chrono::milliseconds statement_timeout_{0};
  std::chrono::milliseconds busy_timeout_{0};
  Clock::time_point deadline_ = Clock::time_point::max();
  bool timed_out_ = false;
  bool quiet_ = false;  // no interruption while rolling back
};

// A prepared statement, finalized on destruction.
class SqliteStatement {
 public:
  SqliteStatement(SqliteConnection& connection, const std::string& sql) : connection_(connection) {
    sqlite3* db = connection_.handle();
    connection_.arm();
    const int rc =
        sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &stmt_, nullptr);
    if (rc != SQLITE_OK) connection_.fail(rc);
  }
  // Prepares a built statement and binds its values, slots from `slots`.
  SqliteStatement(SqliteConnection& connection, const sql::Statement& statement,
                  const sql::Slots& slots)
      : SqliteStatement(connection, statement.text()) {
    bind_all(statement, slots);
  }
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  ~SqliteStatement() { sqlite3_finalize(stmt_); }

  SqliteStatement& bind(int index, std::int64_t value) {
    check(sqlite3_bind_int64(stmt_, index, value));
    return *this;
  }
  SqliteStatement& bind(int index, const std::string& value) {
    check(sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()),
                            SQLITE_TRANSIENT));
    return *this;
  }
  SqliteStatement& bind(int index, double value) {
    check(sqlite3_bind_double(stmt_, index, value));
    return *this;
  }
  // NULL, an integer, a real or text.
  SqliteStatement& bind(int index, const sql::Value& value);
  SqliteStatement& bind(int index, const sqlite3_value* value) {
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

  int column_count() const { return sqlite3_column_count(stmt_); }

  // The largest parameter index the statement uses (0: none).
  int parameter_count() const { return sqlite3_bind_parameter_count(stmt_); }

  // Makes the statement runnable again (bindings are kept).
  void reset() noexcept { sqlite3_reset(stmt_); }

  // Binds a built statement's values, slots from `slots`, replacing every earlier binding.
  void bind_all(const sql::Statement& statement, const sql::Slots& slots) {
    const auto values = statement.values(slots);
    for (std::size_t i = 0; i < values.size(); ++i) bind(static_cast<int>(i + 1), values[i]);
  }

  bool is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  // Where result column `column` comes from, through views: its database, table and column,
  // or empty names when it is an expression rather than a column.
  struct Origin {
    std::string database;
    std::string table;
    std::string column;
  };
  Origin origin(int column) const {
    const auto name = [](const char* text) { return std::string(text != nullptr ? text : ""); };
    return {name(sqlite3_column_database_name(stmt_, column)),
            name(sqlite3_column_table_name(stmt_, column)),
            name(sqlite3_column_origin_name(stmt_, column))};
  }
  std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  double real(int column) const { return sqlite3_column_double(stmt_, column); }
  std::string text(int column) const {
    const unsigned char* data = sqlite3_column_text(stmt_, column);
    if (data == nullptr) return {};
    return std::string(reinterpret_cast<const char*>(data),
                       static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
  }
  OwnedValue value(int column) const {
    OwnedValue copy(sqlite3_value_dup(sqlite3_column_value(stmt_, column)));
    if (!copy) throw DatabaseError(ErrorCause::kOther, "SQLITE_NOMEM", "out of memory");
    return copy;
  }

 private:
  void check(int rc) const {
    if (rc != SQLITE_OK) connection_.fail(rc);
  }

  SqliteConnection& connection_;
  sqlite3_stmt* stmt_ = nullptr;
};

// Resets a kept statement when it goes out of scope, so that it holds no read of the database
// between uses, whether it ran to the end or not.
class SqliteReset {
 public:
  explicit SqliteReset(SqliteStatement& statement) : statement_(statement) { statement_.reset(); }
  SqliteReset(const SqliteReset&) = delete;
  SqliteReset& operator=(const SqliteReset&) = delete;
  ~SqliteReset() { statement_.reset(); }

 private:
  SqliteStatement& statement_;
};

inline void SqliteConnection::exec(const std::string& sql) {
  SqliteStatement statement(*this, sql);
  while (statement.step()) {
  }
}

inline void SqliteConnection::exec_kept(const std::string& sql) {
  SqliteStatement& statement = kept(sql);
  SqliteReset done(statement);
  while (statement.step()) {
  }
}

// BEGIN IMMEDIATE (the write lock, waiting up to the busy timeout), or BEGIN for a read-only
// transaction, on construction; ROLLBACK in the destructor unless commit() succeeded.
class SqliteTransaction {
 public:
  explicit SqliteTransaction(SqliteConnection& connection, bool read_only = false)
      : connection_(connection) {
    connection_.exec_kept(read_only ? "BEGIN" : "BEGIN IMMEDIATE");
  }
  SqliteTransaction(const SqliteTransaction&) = delete;
  SqliteTransaction& operator=(const SqliteTransaction&) = delete;
  ~SqliteTransaction() {
    if (!committed_) connection_.rollback_quietly();
  }

  // Throws DatabaseError; the transaction is still open (and rolled back by the destructor)
  // when COMMIT fails, e.g. SQLITE_BUSY or a deferred foreign key.
  void commit() {
    connection_.exec_kept("COMMIT");
    committed_ = true;
  }

  // False once SQLite rolled the transaction back on its own (an interrupted write, a
  // trigger's RAISE(ROLLBACK, ...), ON CONFLICT ROLLBACK).
  bool active() const { return !committed_ && connection_.in_transaction(); }

 private:
  SqliteConnection& connection_;
  bool committed_ = false;
};
}  // namespace batch_cleanup::store::sqlite
