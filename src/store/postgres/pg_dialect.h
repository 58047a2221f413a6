// PostgreSQL's SQL: $n placeholders with casts, FILTER, text[] lists, now() per transaction.
#pragma once

#include "store/sql/dialect.h"

namespace batch_cleanup::store::postgres {

class PgDialect final : public sql::Dialect {
 public:
  std::string placeholder(int number) const override;
  std::string cast(std::string_view type_name) const override;
  std::string text(const std::string& expr) const override;
  std::string trim(const std::string& expr) const override;
  std::string true_value() const override { return "true"; }
  std::string false_value() const override { return "false"; }
  std::string count_if(const std::string& condition) const override;
  std::string probe_fence() const override { return " OFFSET 0"; }
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
  bool needs_cutoff_slots() const override { return false; }
  void written_before(sql::Builder& b, const std::string& column,
                      std::chrono::milliseconds age) const override;
  void written_since(sql::Builder& b, const std::string& column,
                     const std::string& iso8601) const override;
  std::string iso8601(const std::string& column) const override;
  std::string row_locator() const override { return "ctid"; }
  void open_locator_subquery(sql::Builder& b, const std::string& locator) const override;
  void close_locator_subquery(sql::Builder& b) const override;
  std::string insert_identity_override() const override { return " OVERRIDING SYSTEM VALUE"; }
  void table_exists(sql::Builder& b, const config::QualifiedName& name) const override;
  void column_exists(sql::Builder& b, const config::QualifiedName& name,
                     const std::string& column) const override;
  std::string column_type(sql::ColumnType type) const override;
  std::string generated_key(const std::string& column) const override;
  std::string add_column(const std::string& table, const std::string& column,
                         sql::ColumnType type) const override;
};

// A PostgreSQL array literal {"a","b"} of text values.
std::string array_literal(const std::vector<std::string>& values);

// "N milliseconds", an interval PostgreSQL reads.
std::string interval_text(std::chrono::milliseconds duration);

}  // namespace batch_cleanup::store::postgres
