// The SQLSTATE codes batch_cleanup reacts to, in one place, and how each is classified. SQLite's
// result codes are reported by name ("SQLITE_BUSY") in the same field.
#pragma once

#include <string>
#include <string_view>

#include "batch_cleanup/errors.h"

namespace batch_cleanup::store::sqlstate {

// Class 08: connection exceptions.
inline constexpr std::string_view kConnectionDoesNotExist = "08003";
inline constexpr std::string_view kConnectionFailure = "08006";
// Class 23: integrity constraint violations (a foreign key refusing a row, ...).
inline constexpr std::string_view kUniqueViolation = "23505";
// Class 28: invalid authorization (unknown role, no pg_hba.conf entry, wrong password).
inline constexpr std::string_view kInvalidAuthorization = "28000";
inline constexpr std::string_view kInvalidPassword = "28P01";
// Class 3D: the database does not exist.
inline constexpr std::string_view kInvalidCatalogName = "3D000";
// Class 40: transaction rollback.
inline constexpr std::string_view kSerializationFailure = "40001";
inline constexpr std::string_view kDeadlockDetected = "40P01";
// Class 42: syntax errors and access rules.
inline constexpr std::string_view kInsufficientPrivilege = "42501";
inline constexpr std::string_view kDuplicateTable = "42P07";
// Class 53: insufficient resources.
inline constexpr std::string_view kTooManyConnections = "53300";
inline constexpr std::string_view kConfigurationLimitExceeded = "53400";
// Class 55: object not in prerequisite state.
inline constexpr std::string_view kLockNotAvailable = "55P03";  // lock_timeout
// Class 57: operator intervention.
inline constexpr std::string_view kQueryCanceled = "57014";  // statement_timeout, cancel
inline constexpr std::string_view kAdminShutdown = "57P01";
inline constexpr std::string_view kCannotConnectNow = "57P03";

// batch_cleanup's own code (class BC): the lease of this instance was taken over by another;
// the batch that found it out rolled back.
inline constexpr std::string_view kLeaseLost = "BC001";

// SQLite's result codes as the SQLite store reports them.
inline constexpr std::string_view kSqliteInterrupt = "SQLITE_INTERRUPT";

// How the engine reacts to a PostgreSQL SQLSTATE: connection, serialization, lock and statement
// timeouts, shutdowns and connection limits are retried; constraint, trigger and data errors
// isolate the row; everything else (permissions, missing objects, authentication) is fatal.
ErrorKind classify(std::string_view sqlstate);

// The statement ran past its statement timeout (or was cancelled).
inline bool is_statement_timeout(std::string_view sqlstate) {
  return sqlstate == kQueryCanceled || sqlstate == kSqliteInterrupt;
}

// The error ended the session: the next statement needs a new connection.
inline bool ends_session(const DatabaseError& error) {
  const std::string_view state = error.sqlstate();
  return state.substr(0, 2) == "08" || state.substr(0, 3) == "57P" ||
         error.kind() == ErrorKind::kInDoubt;
}

}  // namespace batch_cleanup::store::sqlstate
