#include "store/sqlite/sqlite_executor.h"

#include "store/sql/predicate.h"

namespace batch_cleanup::store::sqlite {
namespace {

class SqliteScopedTransaction final : public sql::Transaction {
 public:
  SqliteScopedTransaction(SqliteConnection& connection, bool read_only)
      : tx_(connection, read_only) {}
  void commit() override { tx_.commit(); }

 private:
  SqliteTransaction tx_;
};

}  // namespace

sql::Slots cutoff_slots(SqliteConnection& connection, std::chrono::milliseconds min_age,
                        std::chrono::milliseconds expire_after) {
  SqliteStatement& now =
      connection.kept("SELECT julianday('now', ?1), julianday('now', ?2), julianday('now')");
  SqliteReset done(now);
  now.bind(1, seconds_ago(min_age)).bind(2, seconds_ago(expire_after));
  now.step();
  return {{sql::kMinAgeCutoffSlot, now.real(0)},
          {sql::kExpireCutoffSlot, now.real(1)},
          {sql::kNowSlot, now.real(2)}};
}

sql::Rows SqliteExecutor::run(const sql::Statement& statement, const sql::Slots& slots) {
  // Only a batch in flight is ever cancelled; a cancel that outlived it does not stop the
  // statements that follow (the history row of an interrupted cycle, a dry run's counts).
  connection_.begin_operation();
  sql::Slots all = slots;
  if (statement.has_slot(sql::kMinAgeCutoffSlot) || statement.has_slot(sql::kExpireCutoffSlot) ||
      statement.has_slot(sql::kNowSlot)) {
    for (auto& cutoff : cutoff_slots(connection_, min_age_, expire_after_)) {
      all.push_back(std::move(cutoff));  // given slots come first and win
    }
  }
  SqliteStatement prepared(connection_, statement, all);
  sql::Rows rows;
  while (prepared.step()) {
    sql::Rows::Row row;
    for (int c = 0; c < prepared.column_count(); ++c) {
      if (prepared.is_null(c)) {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(prepared.text(c));
      }
    }
    rows.add(std::move(row));
  }
  rows.affected = sqlite3_changes64(connection_.handle());
  return rows;
}

std::unique_ptr<sql::Transaction> SqliteExecutor::begin(bool read_only) {
  return std::make_unique<SqliteScopedTransaction>(connection_, read_only);
}

}  // namespace batch_cleanup::store::sqlite
