// The shared statements (store/sql) on a PostgreSQL session.
#pragma once

#include "store/postgres/pg_dialect.h"
#include "store/postgres/pg_session.h"
#include "store/sql/executor.h"

namespace batch_cleanup::store::postgres {

class PgExecutor final : public sql::Executor {
 public:
  explicit PgExecutor(PgSession& session) : session_(session) {}
  const sql::Dialect& dialect() const override { return pg_dialect(); }
  sql::Rows run(const sql::Statement& statement, const sql::Slots& slots = {}) override;
  std::unique_ptr<sql::Transaction> begin(bool read_only) override;

 private:
  PgSession& session_;
};

}  // namespace batch_cleanup::store::postgres
