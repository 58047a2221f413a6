#include "store/sqlstate.h"

namespace batch_cleanup::store::sqlstate {

ErrorKind classify(std::string_view sqlstate) {
  if (sqlstate.size() != 5) return ErrorKind::kFatal;
  const std::string_view cls = sqlstate.substr(0, 2);
  if (cls == "08") return ErrorKind::kRetryable;
  if (sqlstate == kSerializationFailure || sqlstate == kDeadlockDetected) {
    return ErrorKind::kRetryable;
  }
  if (sqlstate == kLockNotAvailable || sqlstate == kQueryCanceled) return ErrorKind::kRetryable;
  if (cls == "57") return ErrorKind::kRetryable;  // admin shutdown, crash, cannot connect now
  if (sqlstate == kTooManyConnections || sqlstate == kConfigurationLimitExceeded) {
    return ErrorKind::kRetryable;
  }
  if (cls == "23" || cls == "P0" || cls == "22" || cls == "27" || cls == "09" || cls == "44") {
    return ErrorKind::kRowLevel;  // constraints, trigger RAISE, data, triggered action
  }
  return ErrorKind::kFatal;
}

}  // namespace batch_cleanup::store::sqlstate
