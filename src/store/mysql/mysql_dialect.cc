#include "store/mysql/mysql_dialect.h"

namespace batch_cleanup::store::mysql {
namespace {

class MysqlDialect final : public sql::Dialect {
 public:
  MysqlDialect()
      : Dialect(
            {{"TEXT", "BIGINT", "DOUBLE", "DATETIME(3)"}, "BIGINT AUTO_INCREMENT PRIMARY KEY"}) {}
  using sql::Dialect::quote;
  std::string quote(std::string_view identifier) const override {
    std::string out = "`";
    for (const char c : identifier) {
      if (c == '`') out += '`';
      out += c;
    }
    return out + "`";
  }
  sql::Placeholders placeholders() const override { return sql::Placeholders::kPositional; }
  std::string placeholder(int) const override { return "?"; }

  std::string text(const std::string& expr) const override { return "CAST(" + expr + " AS CHAR)"; }
  std::string text_equal(const std::string& a, const std::string& b) const override {
    return a + " = " + b + " AND " + bytes(a) + " = " + bytes(b);
  }
  std::string bytes(const std::string& expr) const override { return "BINARY " + expr; }
  std::string true_value() const override { return "TRUE"; }
  std::string false_value() const override { return "FALSE"; }

  void in_list(sql::Builder& b, const std::string& expr, const sql::Value& list) const override {
    b.sql("JSON_CONTAINS(").value(list).sql(", JSON_QUOTE(" + expr + "))");
  }
  void list_rows(sql::Builder& b, std::string_view slot) const override {
    b.sql("JSON_TABLE(").slot(slot).sql(", '$[*]' COLUMNS (value TEXT PATH '$')) AS k");
  }
  std::string list_aggregate(const std::string& expr) const override {
    return "coalesce(JSON_ARRAYAGG(DISTINCT " + expr + "), '[]')";
  }
  void domain_in_list(sql::Builder& b, const std::string& email,
                      const sql::Value& list) const override {
    b.sql("locate('@', " + email + ") > 0 AND JSON_CONTAINS(")
        .value(list)
        .sql(", JSON_QUOTE(substring_index(" + email + ", '@', -1)))");
  }

  // DATETIME and TIMESTAMP values, read as UTC (the session's time zone is +00:00).
  void created_instant(sql::Builder& b, const std::string& column,
                       const std::string&) const override {
    b.sql(column);
  }
  void age_cutoff(sql::Builder& b, std::chrono::milliseconds age, std::string_view) const override {
    b.sql("(utc_timestamp(6) - INTERVAL ")
        .value(std::int64_t{age.count()})
        .sql(" * 1000 MICROSECOND)");
  }
  bool needs_cutoff_slots() const override { return false; }
  void written_before(sql::Builder& b, const std::string& column,
                      std::chrono::milliseconds age) const override {
    b.sql(column + " < utc_timestamp(3) - INTERVAL ")
        .value(std::int64_t{age.count()})
        .sql(" * 1000 MICROSECOND");
  }
  void written_since(sql::Builder& b, const std::string& column,
                     const std::string& iso8601) const override {
    b.sql(column + " >= CAST(replace(replace(")
        .value(iso8601)
        .sql(", 'T', ' '), 'Z', '') AS DATETIME(3))");
  }
  // DATETIME reads neither the T nor the Z of ISO-8601 (the session's time zone is UTC).
  void timestamp(sql::Builder& b, const std::string& iso8601) const override {
    b.sql("CAST(replace(replace(").value(iso8601).sql(", 'T', ' '), 'Z', '') AS DATETIME(3))");
  }
  std::string iso8601(const std::string& column) const override {
    return "concat(date_format(" + column + ", '%Y-%m-%dT%H:%i:%s.'), lpad(floor(microsecond(" +
           column + ") / 1000), 3, '0'), 'Z')";
  }

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
};

}  // namespace

const sql::Dialect& mysql_dialect() {
  static const MysqlDialect dialect;
  return dialect;
}

}  // namespace batch_cleanup::store::mysql
