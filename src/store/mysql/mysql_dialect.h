// The MySQL/MariaDB dialect: `backtick` quoting, one positional ? per use, JSON lists,
// UTC_TIMESTAMP, DELETE ... ORDER BY ... LIMIT, information_schema, and text compared byte for
// byte (`a = b AND BINARY a = BINARY b`: the first keeps the index, the second refuses what a
// _ci or PAD SPACE collation equates).
#pragma once

#include "store/sql/dialect.h"

namespace batch_cleanup::store::mysql {

const sql::Dialect& mysql_dialect();

}  // namespace batch_cleanup::store::mysql
