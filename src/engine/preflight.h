// The engine's preflight: from the facts a store found (store/facts.h), decides whether a cycle
// may run, and how its batches address rows. Every guard and configuration message about the
// tables is worded here, once, for every backend.
#pragma once

#include <string>
#include <vector>

#include "batch_cleanup/config.h"
#include "store/archive_table.h"
#include "store/facts.h"

namespace batch_cleanup::engine {

struct PreflightDecision {
  store::BatchPlan plan;
  std::string strategy;               // as reports name it: "physical", "rowid", "key" or "email"
  std::vector<std::string> warnings;  // advice for the operator (CREATE INDEX ...)
  std::vector<std::string> notes;     // what was chosen and why (the timeouts that apply)
  // With the email policy: what it compares and under which collation (also among the notes).
  std::string email_comparison;
  // The foreign keys a delete acts through (store::PreflightFacts::dependents), when the
  // connection enforces them; their notes and warnings are among the above.
  std::vector<store::DependentTable> dependents;
};

// Throws ConfigError for tables, columns, privileges or settings the database cannot serve, and
// GuardError when a guard refuses (distinct-tables: the users table reads what the pending table
// reads, or what it reads cannot be followed; exact-email: the email columns' equality is not
// what --normalize-email promises; unique-key).
PreflightDecision decide_preflight(const CleanupConfig& config, const store::PreflightFacts& facts);

// What `restore` needs of the tables: they exist, the key and email columns too, and the role
// may insert into the pending table. Throws ConfigError.
void check_restore_tables(const CleanupConfig& config, const store::PreflightFacts& facts);

// Throws ConfigError when the archive table cannot take the deleted rows (it is a cleaned
// table, lives in another database, or lacks columns). `facts` of an existing table.
void check_archive_table(const store::ArchiveFacts& facts);

}  // namespace batch_cleanup::engine
