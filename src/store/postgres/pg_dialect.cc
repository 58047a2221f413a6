#include "store/postgres/pg_dialect.h"

namespace batch_cleanup::store::postgres {
namespace {

class PgDialect final : public sql::Dialect {
 public:
  PgDialect()
      : Dialect({{"text", "bigint", "double precision", "timestamptz"},
                 "bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY"}) {}
  using sql::Dialect::quote;
  std::string quote(std::string_view identifier) const override {
    return sql::double_quoted(identifier);
  }
  sql::Placeholders placeholders() const override { return sql::Placeholders::kNumbered; }
  std::string placeholder(int number) const override { return "$" + std::to_string(number); }
  std::string cast(std::string_view type_name) const override {
    return "::" + std::string(type_name);
  }

  std::string text(const std::string& expr) const override { return expr + "::text"; }
  std::string trim(const std::string& expr) const override { return "btrim(" + expr + "::text)"; }
  std::string true_value() const override { return "true"; }
  std::string false_value() const override { return "false"; }
  std::string count_if(const std::string& condition) const override {
    return "count(*) FILTER (WHERE " + condition + ")";
  }
  std::string probe_fence() const override { return " OFFSET 0"; }

  sql::Value list_value(const std::vector<std::string>& items) const override {
    return array_literal(items);
  }
  void in_list(sql::Builder& b, const std::string& expr, const sql::Value& list) const override {
    b.sql(expr + " = ANY (").value(list).cast("text[]").sql(")");
  }
  void list_rows(sql::Builder& b, std::string_view slot) const override {
    b.sql("unnest(").slot(slot).cast("text[]").sql(") AS k(value)");
  }
  std::string list_aggregate(const std::string& expr) const override {
    return "coalesce(array_agg(DISTINCT " + expr + "), '{}')::text";
  }
  // The part after the last '@', by split_part and reverse: no regular expression per row.
  void domain_in_list(sql::Builder& b, const std::string& email,
                      const sql::Value& list) const override {
    b.sql("strpos(" + email + ", '@') > 0 AND reverse(split_part(reverse(" + email +
          "), '@', 1)) = ANY (")
        .value(list)
        .cast("text[]")
        .sql(")");
  }

  // A timestamp or date is read in the configured zone, never in the session's TimeZone (which
  // the server, the role or PGTZ may set to anything).
  void created_instant(sql::Builder& b, const std::string& column,
                       const std::string& zone) const override {
    if (zone.empty()) {
      b.sql(column);
    } else {
      b.sql("(" + column + "::timestamp AT TIME ZONE ").value(zone).cast("text").sql(")");
    }
  }
  // now() is the transaction's start: one "now" for every statement of a batch.
  void age_cutoff(sql::Builder& b, std::chrono::milliseconds age, std::string_view) const override {
    b.sql("now() - ").value(interval_text(age)).cast("interval");
  }
  bool needs_cutoff_slots() const override { return false; }
  void written_before(sql::Builder& b, const std::string& column,
                      std::chrono::milliseconds age) const override {
    b.sql(column + " < now() - ").value(interval_text(age)).cast("interval");
  }
  void written_since(sql::Builder& b, const std::string& column,
                     const std::string& iso8601) const override {
    b.sql(column + " >= ").value(iso8601).cast("timestamptz");
  }
  std::string iso8601(const std::string& column) const override {
    return "to_char(" + column + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
  }

  // DELETE has no LIMIT: the rows' ctids, as ANY (ARRAY(subquery)), a Tid Scan (ctid IN
  // (subquery) would join the whole table).
  void delete_up_to(sql::Builder& b, const std::string& table, const sql::Condition& condition,
                    const std::string&, std::int64_t limit) const override {
    b.sql("DELETE FROM " + table + " WHERE ctid = ANY (ARRAY(SELECT ctid FROM " + table +
          " WHERE ");
    condition(b);
    b.sql(" LIMIT ").value(limit).sql("))");
  }
  std::string insert_identity_override() const override { return " OVERRIDING SYSTEM VALUE"; }
  void table_exists(sql::Builder& b, const config::QualifiedName& name) const override {
    b.sql("SELECT 1 WHERE to_regclass(").value(quote(name)).sql(") IS NOT NULL");
  }
  void column_exists(sql::Builder& b, const config::QualifiedName& name,
                     const std::string& column) const override {
    b.sql("SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass(")
        .value(quote(name))
        .sql(") AND attname = ")
        .value(column)
        .sql(" AND attnum > 0 AND NOT attisdropped");
  }
};

}  // namespace

const sql::Dialect& pg_dialect() {
  static const PgDialect dialect;
  return dialect;
}

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

}  // namespace batch_cleanup::store::postgres
