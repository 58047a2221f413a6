// A third SQL dialect, for tests only: positional `?` markers (one bound value per marker, a slot
// used twice is bound twice) and backtick-quoted identifiers, shaped like MySQL's. It proves that
// the statements written once in store/sql take every difference from the dialect; it is not a
// MySQL backend and no server runs its SQL.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "store/sql/builder.h"
#include "store/sql/dialect.h"

namespace batch_cleanup::store::testing {

class BacktickDialect final : public sql::Dialect {
 public:
  using sql::Dialect::quote;
  std::string quote(std::string_view identifier) const override {
    std::string out = "`";
    for (const char c : identifier) {
      if (c == '`') out += '`';
      out += c;
    }
    out += '`';
    return out;
  }
  sql::Placeholders placeholders() const override { return sql::Placeholders::kPositional; }
  std::string placeholder(int) const override { return "?"; }
  std::string cast(std::string_view) const override { return ""; }

  std::string text(const std::string& expr) const override { return "CAST(" + expr + " AS CHAR)"; }
  std::string trim(const std::string& expr) const override { return "trim(" + expr + ")"; }
  std::string true_value() const override { return "TRUE"; }
  std::string false_value() const override { return "FALSE"; }
  std::string count_if(const std::string& condition) const override {
    return "coalesce(sum(" + condition + "), 0)";
  }
  std::string probe_fence() const override { return ""; }

  sql::Value list_value(const std::vector<std::string>& items) const override {
    return nlohmann::json(items).dump();
  }
  void in_list(sql::Builder& b, const std::string& expr, const sql::Value& list) const override {
    b.sql(expr + " MEMBER OF (").value(list).sql(")");
  }
  void list_rows(sql::Builder& b, std::string_view slot) const override {
    b.sql("JSON_TABLE(").slot(slot).sql(", '$[*]' COLUMNS (value TEXT PATH '$')) AS k");
  }
  std::string list_aggregate(const std::string& expr) const override {
    return "JSON_ARRAYAGG(" + expr + ")";
  }
  void domain_in_list(sql::Builder& b, const std::string& email,
                      const sql::Value& list) const override {
    b.sql("locate('@', " + email + ") > 0 AND substring_index(" + email + ", '@', -1) MEMBER OF (")
        .value(list)
        .sql(")");
  }

  void created_instant(sql::Builder& b, const std::string& column,
                       const std::string&) const override {
    b.sql(column);
  }
  // now() moves between statements: the batch fixes the cutoffs in slots.
  void age_cutoff(sql::Builder& b, std::chrono::milliseconds,
                  std::string_view cutoff_slot) const override {
    b.slot(cutoff_slot);
  }
  bool needs_cutoff_slots() const override { return true; }
  void written_before(sql::Builder& b, const std::string& column,
                      std::chrono::milliseconds age) const override {
    b.sql(column + " < utc_timestamp(3) - INTERVAL ")
        .value(std::int64_t{age.count()})
        .sql(" * 1000 MICROSECOND");
  }
  void written_since(sql::Builder& b, const std::string& column,
                     const std::string& iso8601) const override {
    b.sql(column + " >= ").value(iso8601);
  }
  std::string iso8601(const std::string& column) const override {
    return "date_format(" + column + ", '%Y-%m-%dT%H:%i:%s.%fZ')";
  }

  // One table, ORDER BY ... LIMIT: no subquery on the table being deleted from.
  void delete_up_to(sql::Builder& b, const std::string& table, const sql::Condition& condition,
                    const std::string& order_by, std::int64_t limit) const override {
    b.sql("DELETE FROM " + table + " WHERE ");
    condition(b);
    b.sql(" ORDER BY " + order_by + " LIMIT ").value(limit);
  }
  std::string insert_identity_override() const override { return ""; }
  void table_exists(sql::Builder& b, const config::QualifiedName& name) const override {
    b.sql("SELECT 1 FROM information_schema.tables WHERE table_schema = coalesce(NULLIF(")
        .value(name.schema)
        .sql(", ''), database()) AND table_name = ")
        .value(name.name);
  }
  void column_exists(sql::Builder& b, const config::QualifiedName& name,
                     const std::string& column) const override {
    b.sql("SELECT 1 FROM information_schema.columns WHERE table_schema = coalesce(NULLIF(")
        .value(name.schema)
        .sql(", ''), database()) AND table_name = ")
        .value(name.name)
        .sql(" AND column_name = ")
        .value(column);
  }

  std::string column_type(sql::ColumnType type) const override {
    static constexpr const char* kNames[] = {"TEXT", "BIGINT", "DOUBLE", "DATETIME(3)"};
    return kNames[static_cast<int>(type)];
  }
  std::string generated_key(const std::string& column) const override {
    return column + " BIGINT AUTO_INCREMENT PRIMARY KEY";
  }
  std::string add_column(const std::string& table, const std::string& column,
                         sql::ColumnType type) const override {
    return "ALTER TABLE " + table + " ADD COLUMN " + column + " " + column_type(type);
  }
};

// The dialect (stateless; one instance).
inline const sql::Dialect& backtick_dialect() {
  static const BacktickDialect dialect;
  return dialect;
}

}  // namespace batch_cleanup::store::testing
