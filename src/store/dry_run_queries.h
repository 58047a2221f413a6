// Set-based questions about the whole candidate set: what a dry run reports and what the guards
// compare. They read only, and work on a read-only (dry-run) connection.
#pragma once

#include <cstdint>
#include <vector>

#include "batch_cleanup/report.h"
#include "store/batch_types.h"
#include "store/facts.h"

namespace batch_cleanup::store {

// What deleting the candidate set does to the dependent tables (PreflightFacts::dependents), per
// dependent, in its order.
struct DependentCounts {
  // CASCADE: rows deleted with the candidates a RESTRICT or NO ACTION key does not refuse (and,
  // below, with the rows those cascades delete); SET NULL / SET DEFAULT: rows changed; RESTRICT /
  // NO ACTION: rows that reference a candidate (they stay, and keep it).
  std::vector<std::int64_t> rows;
  // RESTRICT / NO ACTION: candidates whose delete the key refuses; 0 for the other actions.
  std::vector<std::int64_t> refused;
  // Candidates some key refuses (each counted once).
  std::int64_t refused_total = 0;
};

class DryRunQueries {
 public:
  virtual ~DryRunQueries() = default;
  // The size of the whole candidate set, by one set-based query.
  virtual std::int64_t count_candidates() = 0;
  // Up to `limit` candidate rows in key order, with their reasons.
  virtual std::vector<PendingRow> sample_candidates(std::int64_t limit) = 0;
  // What each policy and protection would do, counted set-based. Collision samples are raw
  // emails; the engine masks them. `candidates` is count_candidates() of the same cycle: where
  // the preview's one figure is that count (the exact email policy alone, nothing kept by age or
  // exemption), no second pass over the table runs.
  virtual PolicyPreview preview_policies(std::int64_t candidates) = 0;
  // What the candidate set's delete does to `dependents` (the facts inspect() reported), counted
  // set-based: one count per dependent, and one per refusing key.
  virtual DependentCounts count_dependents(const std::vector<DependentTable>& dependents) = 0;
  // Rows in the pending table.
  virtual std::int64_t count_pending() = 0;
  // True when the users table has no row at all (one probe, not a count).
  virtual bool users_table_empty() = 0;
};

}  // namespace batch_cleanup::store
