// The preflight's guards on what the users side really is: guard 'distinct-tables' over what
// the two tables read (not their names), and guard 'exact-email' over how the email columns
// compare. Used by engine/preflight.cc.
#pragma once

#include <string>
#include <vector>

#include "batch_cleanup/config.h"
#include "store/facts.h"

namespace batch_cleanup::engine {

// Throws GuardError when the users table reads a relation the pending table's statements read
// (a view, a materialized view, a parent or a child of the pending table), or reads something
// that cannot be followed (a foreign table, a user-defined function) without
// --allow-unverified-users-table; with it, adds a warning naming what was not verified.
void check_distinct_reads(const CleanupConfig& config, const store::PreflightFacts& facts,
                          std::vector<std::string>& warnings);

// Throws GuardError when the email comparison --normalize-email asks for is not the one the
// columns' collations or types make (a nondeterministic collation, citext, SQLite NOCASE under
// --normalize-email none). Returns the comparison in force, in words; empty without the email
// policy.
std::string check_email_comparison(const CleanupConfig& config, const store::PreflightFacts& facts);

}  // namespace batch_cleanup::engine
