// What a batch's write transaction did to the dependent tables (BatchPlan::dependents) on
// SQLite: the transaction holds the database's only write lock, so what a table lost between
// the start and the end of the transaction (rows, or rows whose referencing columns are all set)
// is what the deletes of the pending table took with them (CASCADE) or set to NULL (SET NULL).
// SET DEFAULT keys are not counted.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/batch_types.h"
#include "store/facts.h"
#include "store/sqlite/sqlite_connection.h"

namespace batch_cleanup::store::sqlite {

class SqliteDependentCounts {
 public:
  explicit SqliteDependentCounts(const std::vector<DependentTable>& dependents);

  // At the start of a write transaction (nothing deleted yet).
  void begin(SqliteConnection& connection);
  // Just before its COMMIT: adds what each table lost since begin() to `counts`.
  void end(SqliteConnection& connection, std::vector<DependentCount>& counts);

 private:
  struct Counted {
    std::string table;   // as reported
    std::string action;  // "cascade" or "set null"
    std::string sql;     // counts the rows a delete through the key takes away
  };
  std::vector<std::int64_t> read(SqliteConnection& connection) const;

  std::vector<Counted> counted_;
  std::vector<std::int64_t> before_;
};

}  // namespace batch_cleanup::store::sqlite
