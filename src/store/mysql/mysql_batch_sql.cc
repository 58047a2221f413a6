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
  append_key_list(b, t, t.pending, keys);
}

// ", JSON_OBJECT('name', expr, ...)": the whole row, for the archive file.
void row_json(sql::Builder& b, const MysqlBatchTables& t) {
  b.sql(", JSON_OBJECT(");
  for (std::size_t c = 0; c < t.json_fields.size(); ++c) {
    if (c > 0) b.sql(", ");
    b.value(t.json_fields[c].first).sql(", " + t.json_fields[c].second);
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
  for (std::size_t i = 0; i < s.window.size(); ++i) {
    const WindowKind kind{(i & 1U) != 0, (i & 2U) != 0};
    const bool has_after = kind.after;
    sql::Builder window(mysql_dialect());
    window.sql(statement_prefix(limits) + "SELECT count(*), CAST(max(w.k) AS CHAR) FROM (SELECT " +
               key + " AS k FROM " + t.pending + " WHERE ");
    after(window, t, has_after);
    if (kind.slice_end) window.sql(key + " <= ").slot("slice_end").sql(" AND ");
    predicate(window, t);
    window.sql(" ORDER BY " + key + " LIMIT ").slot("limit").sql(") w");
    s.window[i] = window.build();

    sql::Builder fast(mysql_dialect());
    fast.sql(statement_prefix(limits, 0) + "DELETE FROM " + t.pending + " WHERE ");
    after(fast, t, has_after);
    fast.sql(key + " <= ").slot("upto").sql(" AND ");
    predicate(fast, t);
    s.fast_delete[i] = fast.build();

    for (const bool whole : {false, true}) {
      sql::Builder lock(mysql_dialect());
      lock.sql(statement_prefix(limits) + "SELECT CAST(" + key + " AS CHAR), CAST(" + t.pending +
               "." + t.email + " AS CHAR), ");
      sql::append_reason(lock, t.predicate, t.pending, sql::Probe::kPerRow);
      if (whole) row_json(lock, t);
      lock.sql(" FROM " + t.pending + " WHERE ");
      after(lock, t, has_after);
      lock.sql(key + " <= ").slot("upto").sql(" AND ");
      predicate(lock, t);
      lock.sql(" ORDER BY " + key + " LIMIT ").slot("limit");
      if (skip_locked) lock.sql(" FOR UPDATE SKIP LOCKED");
      (whole ? s.lock_whole : s.lock)[i] = lock.build();
    }
  }
  s.row_count = sql::Builder(mysql_dialect())
                    .sql(statement_prefix(limits) + "SELECT count(*) FROM " + t.pending)
                    .build();
  // A walk of the primary key (InnoDB's clustered index) up to the offset.
  sql::Builder bound(mysql_dialect());
  bound
      .sql(statement_prefix(limits) + "SELECT CAST(" + key + " AS CHAR) FROM " + t.pending +
           " ORDER BY " + key + " LIMIT 1 OFFSET ")
      .slot("offset");
  s.slice_bound = bound.build();
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

void append_key_list(sql::Builder& b, const MysqlBatchTables& t, std::string_view row,
                     std::span<const std::string> keys) {
  b.sql(std::string(row) + "." + t.key + " IN (");
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (i > 0) b.sql(", ");
    b.value(key_value(t, keys[i]));
  }
  b.sql(")");
}

sql::Statement archive_keys(const MysqlBatchTables& t, const StatementLimits& limits,
                            std::span<const std::string> keys, const std::string& cycle,
                            const std::string& reason) {
  std::string columns;
  std::string values;
  for (const auto& column : t.columns) {
    columns += column + ", ";
    values += t.pending + "." + column + ", ";
  }
  sql::Builder b(mysql_dialect());
  b.sql(statement_prefix(limits) + "INSERT INTO " + t.archive + " (" + columns +
        "archived_at, cycle_id, reason) SELECT " + values + "utc_timestamp(3), ")
      .value(cycle)
      .sql(", ")
      .value(reason)
      .sql(" FROM " + t.pending + " WHERE ");
  key_list(b, t, keys);
  return b.build();
}

sql::Statement delete_archived(const MysqlBatchTables& t, const StatementLimits& limits,
                               std::span<const std::string> keys) {
  sql::Builder b(mysql_dialect());
  b.sql(statement_prefix(limits) + "DELETE FROM " + t.pending + " WHERE ");
  key_list(b, t, keys);
  return b.build();
}

sql::Statement remaining_keys(const MysqlBatchTables& t, std::span<const std::string> keys) {
  sql::Builder b(mysql_dialect());
  b.sql("SELECT CAST(" + t.pending + "." + t.key + " AS CHAR) FROM " + t.pending + " WHERE ");
  key_list(b, t, keys);
  return b.build();
}

}  // namespace batch_cleanup::store::mysql
