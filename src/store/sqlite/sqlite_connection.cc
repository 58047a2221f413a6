#include "store/sqlite/sqlite_connection.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "log/logger.h"

namespace batch_cleanup::store::sqlite {
namespace {

// Virtual-machine instructions between two progress callbacks (cancel and statement timeout).
constexpr int kProgressInstructions = 4096;

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

}  // namespace

std::string code_name(int code) {
  for (const auto& entry : kCodeNames) {
    if (entry.code == code) return entry.name;
  }
  return "SQLITE_" + std::to_string(code);
}

ErrorCause cause_of(int code) {
  switch (code & 0xff) {
    case SQLITE_BUSY:    // the busy timeout ran out: another connection holds the write lock
    case SQLITE_LOCKED:  // a table lock of a connection sharing the cache
      return ErrorCause::kLockTimeout;
    case SQLITE_INTERRUPT:  // the statement timeout (the progress handler), or a cancel
      return ErrorCause::kStatementTimeout;
    case SQLITE_PROTOCOL:  // a WAL lock race; SQLite itself says "try again"
      return ErrorCause::kServerBusy;
    case SQLITE_CONSTRAINT:  // FOREIGNKEY, TRIGGER (RAISE(ABORT|FAIL|ROLLBACK, ...)), CHECK, ...
      return ErrorCause::kRowRefused;
    case SQLITE_AUTH:  // an authorizer refused the statement
    case SQLITE_PERM:
    case SQLITE_READONLY:
      return ErrorCause::kPrivilege;
    default:
      break;
  }
  // A statement aborted because its transaction was rolled back (e.g. by an interrupt).
  if (code == SQLITE_ABORT_ROLLBACK) return ErrorCause::kConflict;
  return ErrorCause::kOther;
}

bool equal_nocase(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    const auto lower = [](char c) {
      return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    };
    return lower(x) == lower(y);
  });
}

SqliteConnection::SqliteConnection() = default;

SqliteConnection::~SqliteConnection() { close(); }

void SqliteConnection::close() noexcept {
  kept_.clear();  // finalized first: the handle closes for good only without statements
  sqlite3* db = nullptr;
  {
    std::lock_guard lock(cancel_mutex_);
    db = std::exchange(db_, nullptr);
  }
  if (db != nullptr) sqlite3_close_v2(db);  // rolls back an open transaction
}

SqliteStatement& SqliteConnection::kept(const std::string& sql) {
  const auto found = kept_.find(sql);
  if (found != kept_.end()) return *found->second;
  auto statement = std::make_unique<SqliteStatement>(*this, sql);
  return *kept_.emplace(sql, std::move(statement)).first->second;
}

void SqliteConnection::open(const std::string& path, bool read_only,
                            std::chrono::milliseconds busy_timeout,
                            std::chrono::milliseconds statement_timeout, std::int64_t cache_kib) {
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
    const ErrorCause cause = cause_of(code);
    throw DatabaseError(kind_of(cause) == ErrorKind::kRetryable ? cause : ErrorCause::kOther,
                        code_name(code),
                        "cannot open SQLite database file '" + path + "': " + message);
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, static_cast<int>(std::min<long long>(busy_timeout.count(), INT_MAX)));
  sqlite3_progress_handler(db, kProgressInstructions, &SqliteConnection::on_progress, this);
  {
    std::lock_guard lock(cancel_mutex_);
    db_ = db;
  }
  path_ = path;
  try {
    // Connection-level settings only: nothing persistent (journal_mode, ...) is touched.
    exec("PRAGMA foreign_keys = ON");
    if (cache_kib > 0) exec("PRAGMA cache_size = -" + std::to_string(cache_kib));
    if (read_only) exec("PRAGMA query_only = ON");
    // Read the schema now: a file that is not a database fails here, not in preflight.
    exec("SELECT count(*) FROM sqlite_schema");
  } catch (...) {
    close();
    throw;
  }
}

void SqliteConnection::fail(int rc) const {
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
  throw DatabaseError(cause_of(rc), code_name(rc), message);
}

void SqliteConnection::rollback_quietly() noexcept {
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

SqliteStatement& SqliteStatement::bind(int index, const sql::Value& value) {
  if (std::holds_alternative<std::monostate>(value)) {
    check(sqlite3_bind_null(stmt_, index));
  } else if (const auto* integer = std::get_if<std::int64_t>(&value)) {
    bind(index, *integer);
  } else if (const auto* real = std::get_if<double>(&value)) {
    bind(index, *real);
  } else {
    bind(index, std::get<std::string>(value));
  }
  return *this;
}

}  // namespace batch_cleanup::store::sqlite
