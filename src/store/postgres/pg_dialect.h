// PostgreSQL's SQL: $n placeholders with casts, FILTER, text[] lists, now() per transaction.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "store/sql/dialect.h"

namespace batch_cleanup::store::postgres {

// The dialect (stateless; one instance for the process).
const sql::Dialect& pg_dialect();

// A PostgreSQL array literal {"a","b"} of text values.
std::string array_literal(const std::vector<std::string>& values);

// "N milliseconds", an interval PostgreSQL reads.
std::string interval_text(std::chrono::milliseconds duration);

}  // namespace batch_cleanup::store::postgres
