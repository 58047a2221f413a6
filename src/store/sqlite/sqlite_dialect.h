// SQLite's SQL: ?n placeholders, no casts, sum() for conditional counts, JSON arrays as lists,
// and creation-time cutoffs bound per batch (SQLite reads 'now' anew in every statement).
#pragma once

#include <chrono>
#include <string>

#include "store/sql/dialect.h"

namespace batch_cleanup::store::sqlite {

// The dialect (stateless; one instance for the process).
const sql::Dialect& sqlite_dialect();

// The modifier of SQLite's date functions for `age` ago: "-90.000 seconds".
std::string seconds_ago(std::chrono::milliseconds age);

}  // namespace batch_cleanup::store::sqlite
