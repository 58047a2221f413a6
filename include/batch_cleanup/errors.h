// The small set of errors the library reports. Database errors are translated into these
// at the store boundary; nothing else escapes the library.
#pragma once

#include <stdexcept>
#include <string>

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

class DatabaseError : public std::runtime_error {
 public:
  DatabaseError(ErrorKind kind, std::string sqlstate, const std::string& message)
      : std::runtime_error(message), kind_(kind), sqlstate_(std::move(sqlstate)) {}
  ErrorKind kind() const noexcept { return kind_; }
  // Five-character SQLSTATE on PostgreSQL; "SQLITE_<code>" names on SQLite; may be empty.
  const std::string& sqlstate() const noexcept { return sqlstate_; }
  // True when the error was a connection failure (not a query-level refusal).
  bool connection_lost() const noexcept { return sqlstate_ == "08006" || sqlstate_ == "08000"; }

 private:
  ErrorKind kind_;
  std::string sqlstate_;
};

}  // namespace batch_cleanup
