// What a batch's transaction did to the dependent tables (BatchPlan::dependents), read from
// PostgreSQL's own per-transaction statistics (the functions behind pg_stat_xact_all_tables,
// called for the tables' own pg_class rows): the rows deleted and updated in each table so far,
// by this transaction alone. The deletes of the pending table delete (CASCADE) or update (SET
// NULL, SET DEFAULT) them; nothing else of the batch writes there. The statistics also hold
// earlier transactions' counts until the backend flushes them (between transactions): what they
// hold when the transaction begins is left out.
#pragma once

#include <cstdint>
#include <vector>

#include "store/batch_types.h"
#include "store/facts.h"
#include "store/postgres/pg_session.h"

namespace batch_cleanup::store::postgres {

class PgDependentStats {
 public:
  explicit PgDependentStats(const std::vector<DependentTable>& dependents);

  bool active() const { return !tables_.empty(); }
  // A new transaction: what the statistics hold already (counts of earlier transactions that the
  // backend has not flushed yet) is left out.
  void begin(PgSession& session);
  // A savepoint was set: what the transaction counted now.
  void mark(PgSession& session);
  // The transaction went back to the last savepoint: what was counted since mark() is left out
  // (the statistics keep the rolled-back rows).
  void rolled_back(PgSession& session);
  // The rows the transaction deleted or changed per table and action, rolled-back parts left out.
  std::vector<DependentCount> read(PgSession& session);

 private:
  struct Table {
    std::string table;  // as reported ("public.otp")
    std::string schema;
    std::string name;
    bool cascade = false;                 // some edge deletes its rows
    const char* update_action = nullptr;  // "set null" / "set default": some edge updates them
  };
  struct Counts {
    std::vector<std::int64_t> deleted;
    std::vector<std::int64_t> updated;
  };
  Counts query(PgSession& session) const;

  std::vector<Table> tables_;
  Counts mark_;
  Counts discount_;
};

}  // namespace batch_cleanup::store::postgres
