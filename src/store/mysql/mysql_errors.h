// The MySQL and MariaDB error numbers the store reacts to, and the ErrorCause of each: the one
// table of the MySQL/MariaDB boundary (the number itself stays in DatabaseError::code()).
#pragma once

#include <string_view>

#include "batch_cleanup/errors.h"

namespace batch_cleanup::store::mysql {

// The cause of server or client error `code` (mysql_errno()).
ErrorCause cause_of(unsigned code);
// The same, for errors whose number alone does not say (1296, an engine's own error number in
// the message: InnoDB's 193 refuses a cascade deeper than it goes).
ErrorCause cause_of(unsigned code, std::string_view message);

// The code this store reports for a lease taken over by another instance (no server error).
inline constexpr const char* kLeaseLostCode = "BC001";

}  // namespace batch_cleanup::store::mysql
