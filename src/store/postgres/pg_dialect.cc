#include "store/postgres/pg_dialect.h"

namespace batch_cleanup::store::postgres {

std::string array_literal(const std::vector<std::string>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (const char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::string interval_text(std::chrono::milliseconds duration) {
  return std::to_string(duration.count()) + " milliseconds";
}

std::string PgDialect::placeholder(int number) const { return "$" + std::to_string(number); }

std::string PgDialect::cast(std::string_view type_name) const {
  return "::" + std::string(type_name);
}

std::string PgDialect::text(const std::string& expr) const { return expr + "::text"; }

std::string PgDialect::trim(const std::string& expr) const { return "btrim(" + expr + "::text)"; }

std::string PgDialect::count_if(const std::string& condition) const {
  return "count(*) FILTER (WHERE " + condition + ")";
}

sql::Value PgDialect::list_value(const std::vector<std::string>& items) const {
  return array_literal(items);
}

void PgDialect::in_list(sql::Builder& b, const std::string& expr, const sql::Value& list) const {
  b.sql(expr + " = ANY (").value(list).cast("text[]").sql(")");
}

void PgDialect::list_rows(sql::Builder& b, std::string_view slot) const {
  b.sql("unnest(").slot(slot).cast("text[]").sql(") AS k(value)");
}

std::string PgDialect::list_aggregate(const std::string& expr) const {
  return "coalesce(array_agg(DISTINCT " + expr + "), '{}')::text";
}

// The part after the last '@', by split_part and reverse: no regular expression per row.
void PgDialect::domain_in_list(sql::Builder& b, const std::string& email,
                               const sql::Value& list) const {
  b.sql("strpos(" + email + ", '@') > 0 AND reverse(split_part(reverse(" + email +
        "), '@', 1)) = ANY (")
      .value(list)
      .cast("text[]")
      .sql(")");
}

// A timestamp or date is read in the configured zone, never in the session's TimeZone (which
// the server, the role or PGTZ may set to anything).
void PgDialect::created_instant(sql::Builder& b, const std::string& column,
                                const std::string& zone) const {
  if (zone.empty()) {
    b.sql(column);
    return;
  }
  b.sql("(" + column + "::timestamp AT TIME ZONE ").value(zone).cast("text").sql(")");
}

void PgDialect::age_cutoff(sql::Builder& b, std::chrono::milliseconds age,
                           std::string_view /*cutoff_slot*/) const {
  b.sql("now() - ").value(interval_text(age)).cast("interval");
}

void PgDialect::written_before(sql::Builder& b, const std::string& column,
                               std::chrono::milliseconds age) const {
  b.sql(column + " < ");
  age_cutoff(b, age, "");
}

void PgDialect::written_since(sql::Builder& b, const std::string& column,
                              const std::string& iso8601) const {
  b.sql(column + " >= ").value(iso8601).cast("timestamptz");
}

std::string PgDialect::iso8601(const std::string& column) const {
  return "to_char(" + column + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
}

// ANY (ARRAY(subquery)) is a Tid Scan; ctid IN (subquery) would be a join over the whole table.
void PgDialect::open_locator_subquery(sql::Builder& b, const std::string& locator) const {
  b.sql(locator + " = ANY (ARRAY(");
}

void PgDialect::close_locator_subquery(sql::Builder& b) const { b.sql("))"); }

void PgDialect::table_exists(sql::Builder& b, const config::QualifiedName& name) const {
  b.sql("SELECT 1 WHERE to_regclass(").value(name.quoted()).sql(") IS NOT NULL");
}

void PgDialect::column_exists(sql::Builder& b, const config::QualifiedName& name,
                              const std::string& column) const {
  b.sql("SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass(")
      .value(name.quoted())
      .sql(") AND attname = ")
      .value(column)
      .sql(" AND attnum > 0 AND NOT attisdropped");
}

std::string PgDialect::column_type(sql::ColumnType type) const {
  switch (type) {
    case sql::ColumnType::kInteger:
      return "bigint";
    case sql::ColumnType::kReal:
      return "double precision";
    case sql::ColumnType::kTimestamp:
      return "timestamptz";
    case sql::ColumnType::kText:
      break;
  }
  return "text";
}

std::string PgDialect::generated_key(const std::string& column) const {
  return column + " bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY";
}

std::string PgDialect::add_column(const std::string& table, const std::string& column,
                                  sql::ColumnType type) const {
  return "ALTER TABLE " + table + " ADD COLUMN IF NOT EXISTS " + column + " " + column_type(type);
}

}  // namespace batch_cleanup::store::postgres
