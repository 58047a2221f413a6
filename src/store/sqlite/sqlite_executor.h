// The shared statements (store/sql) on a SQLite connection.
#pragma once

#include <chrono>

#include "store/sql/executor.h"
#include "store/sqlite/sqlite_connection.h"
#include "store/sqlite/sqlite_dialect.h"

namespace batch_cleanup::store::sqlite {

// The creation-time cutoffs of one batch, as Julian day numbers: SQLite reads 'now' anew in
// every statement, so a batch fixes it once for its SELECT and its DELETE.
sql::Slots cutoff_slots(SqliteConnection& connection, std::chrono::milliseconds min_age,
                        std::chrono::milliseconds expire_after);

class SqliteExecutor final : public sql::Executor {
 public:
  // `min_age` and `expire_after` fill the cutoff slots a statement leaves open (one "now" per
  // statement run through here).
  SqliteExecutor(SqliteConnection& connection, std::chrono::milliseconds min_age,
                 std::chrono::milliseconds expire_after)
      : connection_(connection), min_age_(min_age), expire_after_(expire_after) {}

  const sql::Dialect& dialect() const override { return sqlite_dialect(); }
  sql::Rows run(const sql::Statement& statement, const sql::Slots& slots = {}) override;
  std::unique_ptr<sql::Transaction> begin(bool read_only) override;

 private:
  SqliteConnection& connection_;
  std::chrono::milliseconds min_age_;
  std::chrono::milliseconds expire_after_;
};

}  // namespace batch_cleanup::store::sqlite
