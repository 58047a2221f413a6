#include "store/sqlite/sqlite_dialect.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace batch_cleanup::store::sqlite {
namespace {

// How the tool writes timestamps (archived_at): ISO-8601 UTC with milliseconds.
constexpr const char* kIsoFormat = "'%Y-%m-%dT%H:%M:%fZ'";

}  // namespace

std::string seconds_ago(std::chrono::milliseconds age) {
  return fmt::format("-{:.3f} seconds", static_cast<double>(age.count()) / 1000.0);
}

std::string SqliteDialect::placeholder(int number) const { return "?" + std::to_string(number); }

std::string SqliteDialect::trim(const std::string& expr) const { return "trim(" + expr + ")"; }

std::string SqliteDialect::count_if(const std::string& condition) const {
  return "coalesce(sum(" + condition + "), 0)";
}

sql::Value SqliteDialect::list_value(const std::vector<std::string>& items) const {
  return nlohmann::json(items).dump();
}

void SqliteDialect::in_list(sql::Builder& b, const std::string& expr,
                            const sql::Value& list) const {
  b.sql(expr + " IN (SELECT value FROM json_each(").value(list).sql("))");
}

void SqliteDialect::list_rows(sql::Builder& b, std::string_view slot) const {
  b.sql("json_each(").slot(slot).sql(") AS k");
}

std::string SqliteDialect::list_aggregate(const std::string& expr) const {
  return "json_group_array(DISTINCT " + expr + ")";
}

void SqliteDialect::domain_in_list(sql::Builder& b, const std::string& email,
                                   const sql::Value& list) const {
  b.sql("EXISTS (SELECT 1 FROM json_each(")
      .value(list)
      .sql(") d WHERE substr(" + email + ", -length(d.value) - 1) = '@' || d.value)");
}

// ISO-8601 text (UTC unless it carries an offset), a Julian day number, or Unix seconds
// ('auto'); anything else reads as NULL: never expired, never old enough.
void SqliteDialect::created_instant(sql::Builder& b, const std::string& column,
                                    const std::string& /*zone*/) const {
  b.sql("julianday(" + column + ", 'auto')");
}

// A Julian day number the store computes once per batch (julianday('now', seconds_ago(age))),
// so that a batch's selection and its DELETE agree.
void SqliteDialect::age_cutoff(sql::Builder& b, std::chrono::milliseconds /*age*/,
                               std::string_view cutoff_slot) const {
  b.slot(cutoff_slot);
}

void SqliteDialect::written_before(sql::Builder& b, const std::string& column,
                                   std::chrono::milliseconds age) const {
  b.sql(column + " < strftime(" + kIsoFormat + ", 'now', ").value(seconds_ago(age)).sql(")");
}

void SqliteDialect::written_since(sql::Builder& b, const std::string& column,
                                  const std::string& iso8601) const {
  b.sql(column + " >= strftime(" + kIsoFormat + ", ").value(iso8601).sql(")");
}

void SqliteDialect::open_locator_subquery(sql::Builder& b, const std::string& locator) const {
  b.sql(locator + " IN (");
}

void SqliteDialect::close_locator_subquery(sql::Builder& b) const { b.sql(")"); }

void SqliteDialect::table_exists(sql::Builder& b, const config::QualifiedName& name) const {
  b.sql("SELECT 1 FROM pragma_table_list WHERE name = ")
      .value(name.name)
      .sql(" COLLATE NOCASE AND (")
      .value(name.schema)
      .sql(" = '' OR schema = ")
      .value(name.schema)
      .sql(" COLLATE NOCASE)");
}

void SqliteDialect::column_exists(sql::Builder& b, const config::QualifiedName& name,
                                  const std::string& column) const {
  b.sql("SELECT 1 FROM pragma_table_info(").value(name.name);
  if (!name.schema.empty()) b.sql(", ").value(name.schema);
  b.sql(") WHERE name = ").value(column).sql(" COLLATE NOCASE");
}

std::string SqliteDialect::column_type(sql::ColumnType type) const {
  switch (type) {
    case sql::ColumnType::kInteger:
      return "INTEGER";
    case sql::ColumnType::kReal:
      return "REAL";
    case sql::ColumnType::kTimestamp:
    case sql::ColumnType::kText:
      break;
  }
  return "TEXT";
}

std::string SqliteDialect::generated_key(const std::string& column) const {
  return column + " INTEGER PRIMARY KEY";
}

std::string SqliteDialect::add_column(const std::string& table, const std::string& column,
                                      sql::ColumnType type) const {
  return "ALTER TABLE " + table + " ADD COLUMN " + column + " " + column_type(type);
}

}  // namespace batch_cleanup::store::sqlite
