// The SQLSTATE codes the PostgreSQL store reacts to, in one place, and the cause each one
// translates into (errors.h). Nothing outside src/store/postgres/ reads a SQLSTATE.
#pragma once

#include <string_view>

#include "batch_cleanup/errors.h"

namespace batch_cleanup::store::postgres::sqlstate {

// Class 08: connection exceptions.
inline constexpr std::string_view kConnectionDoesNotExist = "08003";
inline constexpr std::string_view kConnectionFailure = "08006";
// Class 22: data exceptions.
inline constexpr std::string_view kInvalidTextRepresentation = "22P02";
// Class 23: integrity constraint violations (a foreign key refusing a row, ...).
inline constexpr std::string_view kUniqueViolation = "23505";
// Class 28: invalid authorization (unknown role, no pg_hba.conf entry, wrong password).
inline constexpr std::string_view kInvalidAuthorization = "28000";
inline constexpr std::string_view kInvalidPassword = "28P01";
// Class 3D: the database does not exist; 3F: the schema does not exist.
inline constexpr std::string_view kInvalidCatalogName = "3D000";
inline constexpr std::string_view kInvalidSchemaName = "3F000";
// Class 40: transaction rollback.
inline constexpr std::string_view kSerializationFailure = "40001";
inline constexpr std::string_view kDeadlockDetected = "40P01";
// Class 42: syntax errors and access rules.
inline constexpr std::string_view kInsufficientPrivilege = "42501";
inline constexpr std::string_view kUndefinedColumn = "42703";
inline constexpr std::string_view kUndefinedTable = "42P01";
inline constexpr std::string_view kUndefinedObject = "42704";
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

// batch_cleanup's own code (class BC), kept in reports: the lease of this instance was taken
// over by another; the batch that found it out rolled back.
inline constexpr std::string_view kLeaseLost = "BC001";

// The cause a SQLSTATE reports: connection exceptions and shutdowns end the session;
// serialization failures, deadlocks, lock and statement timeouts and connection limits are
// retried; constraint, trigger and data errors refuse the row; privileges, missing objects and
// authentication are fatal, as is everything else.
ErrorCause cause_of(std::string_view sqlstate);

}  // namespace batch_cleanup::store::postgres::sqlstate
