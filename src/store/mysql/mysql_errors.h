// The MySQL and MariaDB error numbers the store reacts to, and the ErrorCause of each: the one
// table of the MySQL/MariaDB boundary (the number itself stays in DatabaseError::code()).
#pragma once

#include "batch_cleanup/errors.h"

namespace batch_cleanup::store::mysql {

// The cause of server or client error `code` (mysql_errno()).
ErrorCause cause_of(unsigned code);

// The code this store reports for a lease taken over by another instance (no server error).
inline constexpr const char* kLeaseLostCode = "BC001";

}  // namespace batch_cleanup::store::mysql
