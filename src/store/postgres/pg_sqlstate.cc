#include "store/postgres/pg_sqlstate.h"

namespace batch_cleanup::store::postgres::sqlstate {

ErrorCause cause_of(std::string_view sqlstate) {
  if (sqlstate.size() != 5) return ErrorCause::kOther;
  const std::string_view cls = sqlstate.substr(0, 2);
  if (cls == "08") return ErrorCause::kConnectionLost;
  if (sqlstate.substr(0, 3) == "57P") return ErrorCause::kConnectionLost;  // shutdown, crash
  if (sqlstate == kSerializationFailure || sqlstate == kDeadlockDetected) {
    return ErrorCause::kConflict;
  }
  if (sqlstate == kLockNotAvailable) return ErrorCause::kLockTimeout;
  if (sqlstate == kQueryCanceled) return ErrorCause::kStatementTimeout;
  if (cls == "57") return ErrorCause::kServerBusy;  // other operator intervention
  if (sqlstate == kTooManyConnections || sqlstate == kConfigurationLimitExceeded) {
    return ErrorCause::kServerBusy;
  }
  if (cls == "23" || cls == "P0" || cls == "22" || cls == "27" || cls == "09" || cls == "44") {
    return ErrorCause::kRowRefused;  // constraints, trigger RAISE, data, triggered action
  }
  if (cls == "28") return ErrorCause::kAuthentication;
  if (sqlstate == kInsufficientPrivilege) return ErrorCause::kPrivilege;
  if (cls == "3D" || cls == "3F" || sqlstate == kUndefinedTable || sqlstate == kUndefinedColumn ||
      sqlstate == kUndefinedObject) {
    return ErrorCause::kUndefinedObject;
  }
  if (sqlstate == kLeaseLost) return ErrorCause::kLeaseLost;
  return ErrorCause::kOther;
}

}  // namespace batch_cleanup::store::postgres::sqlstate
