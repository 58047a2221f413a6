// Each store's translation of its driver's codes into the causes the engine decides on
// (batch_cleanup/errors.h), and what each cause means for the engine.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>
#include <utility>
#include <vector>

#include "batch_cleanup/errors.h"
#include "store/postgres/pg_sqlstate.h"
#include "store/sqlite/sqlite_connection.h"

namespace batch_cleanup {
namespace {

TEST(ErrorCauseTest, PostgresSqlstatesTranslateToTheirCauses) {
  const std::vector<std::pair<std::string, ErrorCause>> cases = {
      {"08006", ErrorCause::kConnectionLost},    // connection failure
      {"08001", ErrorCause::kConnectionLost},    // cannot establish
      {"57P01", ErrorCause::kConnectionLost},    // admin shutdown
      {"57P03", ErrorCause::kConnectionLost},    // cannot connect now
      {"53300", ErrorCause::kServerBusy},        // too many connections
      {"55P03", ErrorCause::kLockTimeout},       // lock_not_available
      {"57014", ErrorCause::kStatementTimeout},  // query_canceled
      {"40001", ErrorCause::kConflict},          // serialization failure
      {"40P01", ErrorCause::kConflict},          // deadlock
      {"23503", ErrorCause::kRowRefused},        // foreign key
      {"23505", ErrorCause::kRowRefused},        // unique
      {"P0001", ErrorCause::kRowRefused},        // trigger RAISE
      {"22001", ErrorCause::kRowRefused},        // data
      {"42501", ErrorCause::kPrivilege},
      {"42P01", ErrorCause::kUndefinedObject},  // table
      {"42703", ErrorCause::kUndefinedObject},  // column
      {"3D000", ErrorCause::kUndefinedObject},  // database
      {"3F000", ErrorCause::kUndefinedObject},  // schema
      {"28P01", ErrorCause::kAuthentication},   // password
      {"28000", ErrorCause::kAuthentication},   // pg_hba
      {"BC001", ErrorCause::kLeaseLost},        // ours
      {"42601", ErrorCause::kOther},            // syntax
      {"XX000", ErrorCause::kOther},            // internal
      {"", ErrorCause::kOther},
  };
  for (const auto& [code, cause] : cases) {
    EXPECT_EQ(store::postgres::sqlstate::cause_of(code), cause) << code;
  }
}

TEST(ErrorCauseTest, SqliteResultCodesTranslateToTheirCauses) {
  const std::vector<std::pair<int, ErrorCause>> cases = {
      {SQLITE_BUSY, ErrorCause::kLockTimeout},
      {SQLITE_BUSY_SNAPSHOT, ErrorCause::kLockTimeout},
      {SQLITE_LOCKED, ErrorCause::kLockTimeout},
      {SQLITE_INTERRUPT, ErrorCause::kStatementTimeout},
      {SQLITE_PROTOCOL, ErrorCause::kServerBusy},
      {SQLITE_CONSTRAINT_FOREIGNKEY, ErrorCause::kRowRefused},
      {SQLITE_CONSTRAINT_TRIGGER, ErrorCause::kRowRefused},
      {SQLITE_READONLY, ErrorCause::kPrivilege},
      {SQLITE_AUTH, ErrorCause::kPrivilege},
      {SQLITE_ABORT_ROLLBACK, ErrorCause::kConflict},
      {SQLITE_FULL, ErrorCause::kOther},
      {SQLITE_IOERR_WRITE, ErrorCause::kOther},
      {SQLITE_CORRUPT, ErrorCause::kOther},
  };
  for (const auto& [code, cause] : cases) {
    EXPECT_EQ(store::sqlite::cause_of(code), cause) << store::sqlite::code_name(code);
  }
}

TEST(ErrorCauseTest, EachCauseCallsForOneReaction) {
  EXPECT_EQ(kind_of(ErrorCause::kConnectionLost), ErrorKind::kRetryable);
  EXPECT_EQ(kind_of(ErrorCause::kServerBusy), ErrorKind::kRetryable);
  EXPECT_EQ(kind_of(ErrorCause::kLockTimeout), ErrorKind::kRetryable);
  EXPECT_EQ(kind_of(ErrorCause::kStatementTimeout), ErrorKind::kRetryable);
  EXPECT_EQ(kind_of(ErrorCause::kConflict), ErrorKind::kRetryable);
  EXPECT_EQ(kind_of(ErrorCause::kRowRefused), ErrorKind::kRowLevel);
  EXPECT_EQ(kind_of(ErrorCause::kInDoubt), ErrorKind::kInDoubt);
  for (const auto cause :
       {ErrorCause::kPrivilege, ErrorCause::kUndefinedObject, ErrorCause::kAuthentication,
        ErrorCause::kLeaseLost, ErrorCause::kOther}) {
    EXPECT_EQ(kind_of(cause), ErrorKind::kFatal) << cause_name(cause);
  }
  // Only a lost connection and a commit in doubt need a new connection.
  EXPECT_TRUE(DatabaseError(ErrorCause::kConnectionLost, "08006", "x").ends_session());
  EXPECT_TRUE(DatabaseError(ErrorCause::kInDoubt, "08006", "x").ends_session());
  EXPECT_FALSE(DatabaseError(ErrorCause::kStatementTimeout, "57014", "x").ends_session());
  EXPECT_FALSE(DatabaseError(ErrorCause::kLockTimeout, "SQLITE_BUSY", "x").ends_session());
  // The backend's code is kept for reports, whatever the backend.
  const DatabaseError busy(ErrorCause::kLockTimeout, "1205", "Lock wait timeout exceeded");
  EXPECT_EQ(busy.code(), "1205");
  EXPECT_EQ(busy.kind(), ErrorKind::kRetryable);
  EXPECT_EQ(cause_name(busy.cause()), "lock_timeout");
}

}  // namespace
}  // namespace batch_cleanup
