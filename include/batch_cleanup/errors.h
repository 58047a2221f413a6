// The small set of errors the library reports. Database errors are translated into these
// at the store boundary; nothing else escapes the library.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace batch_cleanup {

// Bad flag, value, URL, unknown table or column, missing SQLite file. Exit code 2.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A guard refused to run (e.g. pending and users are one relation). Exit code 2.
class GuardError : public ConfigError {
 public:
  using ConfigError::ConfigError;
};

// The database could not be reached after all retries. Exit code 3.
class ConnectionError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// How the engine must react to a database error.
enum class ErrorKind {
  kRetryable,  // connection lost, deadlock, serialization failure, lock or statement timeout
  kRowLevel,   // a constraint or trigger refused one row: isolate it, go on
  kFatal,      // permissions, missing objects, anything else
  kInDoubt,    // the connection died during COMMIT: the outcome is unknown
};

// What went wrong, in terms every backend shares. Each store translates its driver's codes
// (a PostgreSQL SQLSTATE, an SQLite result code, a MySQL error number) into one of these at its
// boundary; the engine decides on the cause alone.
enum class ErrorCause {
  kConnectionLost,    // the session is gone (network, server shutdown): reconnect, then retry
  kServerBusy,        // the server refused for now (too many connections, starting up): retry
  kLockTimeout,       // a lock wait ran past the lock timeout (the rows are held by others)
  kStatementTimeout,  // a statement ran past its statement timeout, or was cancelled
  kConflict,          // deadlock or serialization failure: the transaction rolled back; retry
  kRowRefused,        // a constraint or trigger refused a row (or the row's data was invalid)
  kPrivilege,         // the role lacks a privilege
  kUndefinedObject,   // a table, column, schema or database does not exist (any more)
  kAuthentication,    // the server rejected the credentials, the role, or the client's address
  kInDoubt,           // the connection died during COMMIT: the outcome is unknown
  kLeaseLost,         // this instance's lease was taken over: its batch rolled back
  kOther,             // anything else: fatal
};

// The reaction a cause calls for.
constexpr ErrorKind kind_of(ErrorCause cause) noexcept {
  switch (cause) {
    case ErrorCause::kConnectionLost:
    case ErrorCause::kServerBusy:
    case ErrorCause::kLockTimeout:
    case ErrorCause::kStatementTimeout:
    case ErrorCause::kConflict:
      return ErrorKind::kRetryable;
    case ErrorCause::kRowRefused:
      return ErrorKind::kRowLevel;
    case ErrorCause::kInDoubt:
      return ErrorKind::kInDoubt;
    case ErrorCause::kPrivilege:
    case ErrorCause::kUndefinedObject:
    case ErrorCause::kAuthentication:
    case ErrorCause::kLeaseLost:
    case ErrorCause::kOther:
      break;
  }
  return ErrorKind::kFatal;
}

// A lowercase name for logs and JSON ("lock_timeout").
constexpr std::string_view cause_name(ErrorCause cause) noexcept {
  switch (cause) {
    case ErrorCause::kConnectionLost:
      return "connection_lost";
    case ErrorCause::kServerBusy:
      return "server_busy";
    case ErrorCause::kLockTimeout:
      return "lock_timeout";
    case ErrorCause::kStatementTimeout:
      return "statement_timeout";
    case ErrorCause::kConflict:
      return "conflict";
    case ErrorCause::kRowRefused:
      return "row_refused";
    case ErrorCause::kPrivilege:
      return "privilege";
    case ErrorCause::kUndefinedObject:
      return "undefined_object";
    case ErrorCause::kAuthentication:
      return "authentication";
    case ErrorCause::kInDoubt:
      return "in_doubt";
    case ErrorCause::kLeaseLost:
      return "lease_lost";
    case ErrorCause::kOther:
      break;
  }
  return "other";
}

class DatabaseError : public std::runtime_error {
 public:
  // `code`: the backend's own code of the error (SQLSTATE, "SQLITE_BUSY", a MySQL error
  // number), for logs and reports only; may be empty.
  DatabaseError(ErrorCause cause, std::string code, const std::string& message)
      : std::runtime_error(message), cause_(cause), code_(std::move(code)) {}
  ErrorCause cause() const noexcept { return cause_; }
  ErrorKind kind() const noexcept { return kind_of(cause_); }
  // The backend's code: a five-character SQLSTATE on PostgreSQL, "SQLITE_<code>" names on
  // SQLite; may be empty. For logs and reports: decisions read cause().
  const std::string& code() const noexcept { return code_; }
  // The same as code() (the name it had when PostgreSQL was the only server).
  const std::string& sqlstate() const noexcept { return code_; }
  // True when the error was a connection failure (not a query-level refusal).
  bool connection_lost() const noexcept { return cause_ == ErrorCause::kConnectionLost; }
  // The error ended the session: the next statement needs a new connection.
  bool ends_session() const noexcept {
    return cause_ == ErrorCause::kConnectionLost || cause_ == ErrorCause::kInDoubt;
  }

 private:
  ErrorCause cause_;
  std::string code_;
};

}  // namespace batch_cleanup
