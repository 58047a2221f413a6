// The engine's view of the dependent tables (store::PreflightFacts::dependents): what deleting
// a pending row does to them, worded once for notes, warnings, dry runs and reports.
#pragma once

#include <string>
#include <vector>

#include "batch_cleanup/config.h"
#include "batch_cleanup/report.h"
#include "store/dry_run_queries.h"
#include "store/facts.h"

namespace batch_cleanup::engine {

// "cascade", "set null", "set default", "restrict", "no action": as reports and metrics name it.
std::string on_delete_name(store::OnDelete action);

// Whether the key refuses the delete of a row it references (RESTRICT, NO ACTION).
bool refuses_delete(const store::DependentTable& edge);

// "public.otp(pending_user_id) -> public.pending(pending_user_id) ON DELETE CASCADE"
std::string describe_edge(const store::DependentTable& edge);

// The notes (one per foreign key: what a delete does through it) and warnings (a foreign key
// without an index on its columns; SQLite with foreign keys off) for the dependents. Returns the
// dependents a cycle acts through: none when the connection does not enforce foreign keys.
std::vector<store::DependentTable> decide_dependents(const store::PreflightFacts& facts,
                                                     std::vector<std::string>& notes,
                                                     std::vector<std::string>& warnings);

// Refuses (ConfigError, exit 2) an --archive-file without --archive-table when rows cascade with
// the pending rows: the file keeps the pending rows only, so their cascaded rows would be gone
// for good. --archive-table archives them (T__<table>) in the batch's transaction.
void refuse_unarchived_cascades(const CleanupConfig& config,
                                const std::vector<store::DependentTable>& dependents);

// The report's lines for `dependents` and what the store counted for them.
std::vector<DependentRows> dependent_rows(const std::vector<store::DependentTable>& dependents,
                                          const store::DependentCounts& counts);

// One line for a dry run's report and log: "otp(pending_user_id) -> pending ON DELETE CASCADE:
// 12 row(s) would be deleted with them".
std::string describe_dependent_rows(const DependentRows& rows);

}  // namespace batch_cleanup::engine
