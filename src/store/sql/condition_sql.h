// A --where condition (config/condition.h) rendered through the dialect: every literal a bound
// parameter, every column a quoted identifier of `columns` (checked against the catalog by
// preflight), now() the dialect's clock.
#pragma once

#include <string_view>

#include "config/condition.h"
#include "store/sql/builder.h"
#include "store/sql/predicate.h"

namespace batch_cleanup::store::sql {

// Appends `node` as a boolean expression over the pending row `row`. A time column is read as
// Dialect::created_instant() and compared with the dialect's clock; a boolean literal is bound as
// 1 or 0 (PostgreSQL reads '1' as true). Throws std::logic_error for a column missing from
// `columns` (preflight refuses it first).
void append_condition(Builder& b, const config::ConditionNode& node, std::string_view row,
                      const ConditionColumns& columns);

// The value a literal is bound as.
Value literal_value(const config::ConditionLiteral& literal);

}  // namespace batch_cleanup::store::sql
