// The set-based questions of dry runs and guards, written once over an Executor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/dry_run_queries.h"
#include "store/sql/executor.h"
#include "store/sql/predicate.h"

namespace batch_cleanup::store::sql {

// The cleaned tables as statements name them (quoted).
struct CleanedTables {
  std::string pending;  // "schema"."pending"
  std::string key;      // "pending_user_id"
  PredicateSpec predicate;
};

// Normalised emails that several users rows share (--normalize-email): how many, and the first
// `sample_size` in order (raw emails).
struct EmailCollisions {
  std::int64_t count = 0;
  std::vector<std::string> sample;
};
EmailCollisions email_collisions(Executor& executor, const PredicateSpec& spec, int sample_size);

// `values` lowercased and trimmed by the database's own lower() and trim() (so that both sides of
// an exemption compare with the same functions), without duplicates, as a Dialect::list_value().
Value normalized_list(Executor& executor, const std::vector<std::string>& values);

class SqlDryRunQueries final : public DryRunQueries {
 public:
  SqlDryRunQueries(Executor& executor, CleanedTables tables)
      : executor_(executor), tables_(std::move(tables)) {}

  std::int64_t count_candidates() override;
  std::vector<PendingRow> sample_candidates(std::int64_t limit) override;
  PolicyPreview preview_policies(std::int64_t candidates) override;
  DependentCounts count_dependents(const std::vector<DependentTable>& dependents) override;
  std::int64_t count_pending() override;
  bool users_table_empty() override;

 private:
  Executor& executor_;
  CleanedTables tables_;
};

}  // namespace batch_cleanup::store::sql
