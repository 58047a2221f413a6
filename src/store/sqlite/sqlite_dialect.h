// SQLite's SQL: ?n placeholders, no casts, sum() for conditional counts, JSON arrays as lists,
// and creation-time cutoffs bound per batch (SQLite reads 'now' anew in every statement).
#pragma once

#include "store/sql/dialect.h"

namespace batch_cleanup::store::sqlite {

class SqliteDialect final : public sql::Dialect {
 public:
  std::string placeholder(int number) const override;
  std::string cast(std::string_view) const override { return ""; }
  std::string text(const std::string& expr) const override { return expr; }
  std::string trim(const std::string& expr) const override;
  std::string true_value() const override { return "1"; }
  std::string false_value() const override { return "0"; }
  std::string count_if(const std::string& condition) const override;
  std::string probe_fence() const override { return ""; }
  sql::Value list_value(const std::vector<std::string>& items) const override;
  void in_list(sql::Builder& b, const std::string& expr, const sql::Value& list) const override;
  void list_rows(sql::Builder& b, std::string_view slot) const override;
  std::string list_aggregate(const std::string& expr) const override;
  void domain_in_list(sql::Builder& b, const std::string& email,
                      const sql::Value& list) const override;
  void created_instant(sql::Builder& b, const std::string& column,
                       const std::string& zone) const override;
  void age_cutoff(sql::Builder& b, std::chrono::milliseconds age,
                  std::string_view cutoff_slot) const override;
  bool needs_cutoff_slots() const override { return true; }
  void written_before(sql::Builder& b, const std::string& column,
                      std::chrono::milliseconds age) const override;
  void written_since(sql::Builder& b, const std::string& column,
                     const std::string& iso8601) const override;
  std::string iso8601(const std::string& column) const override { return column; }
  std::string row_locator() const override { return "rowid"; }
  void open_locator_subquery(sql::Builder& b, const std::string& locator) const override;
  void close_locator_subquery(sql::Builder& b) const override;
  std::string insert_identity_override() const override { return ""; }
  void table_exists(sql::Builder& b, const config::QualifiedName& name) const override;
  void column_exists(sql::Builder& b, const config::QualifiedName& name,
                     const std::string& column) const override;
  std::string column_type(sql::ColumnType type) const override;
  std::string generated_key(const std::string& column) const override;
  std::string add_column(const std::string& table, const std::string& column,
                         sql::ColumnType type) const override;
};

// The modifier of SQLite's date functions for `age` ago: "-90.000 seconds".
std::string seconds_ago(std::chrono::milliseconds age);

}  // namespace batch_cleanup::store::sqlite
