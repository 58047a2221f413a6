#include "store/mysql/mysql_batch_sql.h"

#include <fmt/format.h>

#include "store/mysql/mysql_dialect.h"

namespace batch_cleanup::store::mysql {
namespace {

long long whole_seconds(std::chrono::milliseconds ms) {
  return std::max<long long>(1, (ms.count() + 999) / 1000);
}

void predicate(sql::Builder& b, const MysqlBatchTables& t) {
  sql::append_predicate(b, t.predicate, t.pending, sql::Probe::kPerRow);
}

// "[T.key > ? AND] " for a window after the pass's last key.
void after(sql::Builder& b, const MysqlBatchTables& t, bool has_after) {
  if (has_after) b.sql(t.pending + "." + t.key + " > ").slot("after").sql(" AND ");
}

void key_list(sql::Builder& b, const MysqlBatchTables& t, std::span<const std::string> keys) {
  b.sql(t.pending + "." + t.key + " IN (");
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (i > 0) b.sql(", ");
    b.value(key_value(t, keys[i]));
  }
  b.sql(")");
}

}  // namespace

std::string statement_prefix(const StatementLimits& limits, int lock_wait_s) {
  const long long row_wait = lock_wait_s >= 0 ? lock_wait_s : whole_seconds(limits.lock_timeout);
  return fmt::format(
      "SET STATEMENT innodb_lock_wait_timeout={}, lock_wait_timeout={}, max_statement_time={:.3f} "
      "FOR ",
      row_wait, whole_seconds(limits.lock_timeout),
      static_cast<double>(limits.statement_timeout.count()) / 1000.0);
}

sql::Value key_value(const MysqlBatchTables& tables, const std::string& key) {
  if (tables.key_integer) {
    try {
      return sql::Value{static_cast<std::int64_t>(std::stoll(key))};
    } catch (const std::exception&) {
      // not a number after all: compared as text
    }
  }
  return sql::Value{key};
}

MysqlBatchStatements build_batch_statements(const MysqlBatchTables& t,
                                            const StatementLimits& limits, bool skip_locked) {
  MysqlBatchStatements s;
  const std::string key = t.pending + "." + t.key;
  for (const bool has_after : {false, true}) {
    const std::size_t i = has_after ? 1 : 0;
    sql::Builder window(mysql_dialect());
    window.sql(statement_prefix(limits) + "SELECT count(*), CAST(max(w.k) AS CHAR) FROM (SELECT " +
               key + " AS k FROM " + t.pending + " WHERE ");
    after(window, t, has_after);
    predicate(window, t);
    window.sql(" ORDER BY " + key + " LIMIT ").slot("limit").sql(") w");
    s.window[i] = window.build();

    sql::Builder fast(mysql_dialect());
    fast.sql(statement_prefix(limits, 0) + "DELETE FROM " + t.pending + " WHERE ");
    after(fast, t, has_after);
    fast.sql(key + " <= ").slot("upto").sql(" AND ");
    predicate(fast, t);
    s.fast_delete[i] = fast.build();

    sql::Builder lock(mysql_dialect());
    lock.sql(statement_prefix(limits) + "SELECT CAST(" + key + " AS CHAR), CAST(" + t.pending +
             "." + t.email + " AS CHAR), ");
    sql::append_reason(lock, t.predicate, t.pending, sql::Probe::kPerRow);
    lock.sql(" FROM " + t.pending + " WHERE ");
    after(lock, t, has_after);
    lock.sql(key + " <= ").slot("upto").sql(" AND ");
    predicate(lock, t);
    lock.sql(" ORDER BY " + key + " LIMIT ").slot("limit");
    if (skip_locked) lock.sql(" FOR UPDATE SKIP LOCKED");
    s.lock[i] = lock.build();
  }
  return s;
}

sql::Statement delete_keys(const MysqlBatchTables& t, const StatementLimits& limits,
                           std::span<const std::string> keys, int lock_wait_s) {
  sql::Builder b(mysql_dialect());
  b.sql(statement_prefix(limits, lock_wait_s) + "DELETE FROM " + t.pending + " WHERE ");
  key_list(b, t, keys);
  b.sql(" AND ");
  predicate(b, t);
  return b.build();
}

sql::Statement remaining_keys(const MysqlBatchTables& t, std::span<const std::string> keys) {
  sql::Builder b(mysql_dialect());
  b.sql("SELECT CAST(" + t.pending + "." + t.key + " AS CHAR) FROM " + t.pending + " WHERE ");
  key_list(b, t, keys);
  return b.build();
}

}  // namespace batch_cleanup::store::mysql
