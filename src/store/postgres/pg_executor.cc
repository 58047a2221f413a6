#include "store/postgres/pg_executor.h"

namespace batch_cleanup::store::postgres {
namespace {

class PgScopedTransaction final : public sql::Transaction {
 public:
  PgScopedTransaction(PgSession& session, bool read_only) : tx_(session, read_only) {}
  void commit() override { tx_.commit(); }

 private:
  PgTransaction tx_;
};

}  // namespace

sql::Rows PgExecutor::run(const sql::Statement& statement, const sql::Slots& slots) {
  const PgResult result = session_.run(statement, slots);
  sql::Rows rows;
  for (int r = 0; r < result.rows(); ++r) {
    sql::Rows::Row row;
    row.reserve(static_cast<std::size_t>(result.columns()));
    for (int c = 0; c < result.columns(); ++c) row.push_back(result.optional_text(r, c));
    rows.add(std::move(row));
  }
  rows.affected = result.affected();
  return rows;
}

std::unique_ptr<sql::Transaction> PgExecutor::begin(bool read_only) {
  return std::make_unique<PgScopedTransaction>(session_, read_only);
}

}  // namespace batch_cleanup::store::postgres
