#include "store/sqlite/sqlite_dialect.h"

#include <fmt/format.h>

namespace batch_cleanup::store::sqlite {
namespace {

// How the tool writes timestamps (archived_at): ISO-8601 UTC with milliseconds.
constexpr const char* kIsoFormat = "'%Y-%m-%dT%H:%M:%fZ'";

// Values keep their storage class: no casts.
class SqliteDialect final : public sql::Dialect {
 public:
  // Type affinities (timestamps are ISO-8601 text); the generated key is the rowid.
  SqliteDialect() : Dialect({{"TEXT", "INTEGER", "REAL", "TEXT"}, "INTEGER PRIMARY KEY"}) {}
  using sql::Dialect::quote;
  std::string quote(std::string_view identifier) const override {
    return sql::double_quoted(identifier);
  }
  sql::Placeholders placeholders() const override { return sql::Placeholders::kNumbered; }
  std::string placeholder(int number) const override { return "?" + std::to_string(number); }

  std::string text(const std::string& expr) const override { return expr; }
  std::string true_value() const override { return "1"; }
  std::string false_value() const override { return "0"; }

  void in_list(sql::Builder& b, const std::string& expr, const sql::Value& list) const override {
    b.sql(expr + " IN (SELECT value FROM json_each(").value(list).sql("))");
  }
  void list_rows(sql::Builder& b, std::string_view slot) const override {
    b.sql("json_each(").slot(slot).sql(") AS k");
  }
  std::string list_aggregate(const std::string& expr) const override {
    return "json_group_array(DISTINCT " + expr + ")";
  }
  void domain_in_list(sql::Builder& b, const std::string& email,
                      const sql::Value& list) const override {
    b.sql("EXISTS (SELECT 1 FROM json_each(")
        .value(list)
        .sql(") d WHERE substr(" + email + ", -length(d.value) - 1) = '@' || d.value)");
  }

  // ISO-8601 text (UTC unless it carries an offset), a Julian day number, or Unix seconds
  // ('auto'); anything else reads as NULL: never expired, never old enough.
  void created_instant(sql::Builder& b, const std::string& column,
                       const std::string&) const override {
    b.sql("julianday(" + column + ", 'auto')");
  }
  // A Julian day number the store computes once per batch (julianday('now', seconds_ago(age))),
  // so that a batch's selection and its DELETE agree.
  void age_cutoff(sql::Builder& b, std::chrono::milliseconds,
                  std::string_view cutoff_slot) const override {
    b.slot(cutoff_slot);
  }
  // The batch's "now" (slot kNowSlot, a Julian day number) less `age` in days.
  void clock_minus(sql::Builder& b, std::chrono::milliseconds age) const override {
    b.sql("(")
        .slot(sql::kNowSlot)
        .sql(" - ")
        .value(static_cast<double>(age.count()) / 86'400'000.0);
    b.sql(")");
  }
  bool needs_cutoff_slots() const override { return true; }
  void written_before(sql::Builder& b, const std::string& column,
                      std::chrono::milliseconds age) const override {
    b.sql(column + " < strftime(" + kIsoFormat + ", 'now', ").value(seconds_ago(age)).sql(")");
  }
  void written_since(sql::Builder& b, const std::string& column,
                     const std::string& iso8601) const override {
    b.sql(column + " >= strftime(" + kIsoFormat + ", ").value(iso8601).sql(")");
  }
  std::string iso8601(const std::string& column) const override { return column; }

  // DELETE ... LIMIT needs SQLITE_ENABLE_UPDATE_DELETE_LIMIT: the rows' rowids instead.
  void delete_up_to(sql::Builder& b, const std::string& table, const sql::Condition& condition,
                    const std::string&, std::int64_t limit) const override {
    b.sql("DELETE FROM " + table + " WHERE rowid IN (SELECT rowid FROM " + table + " WHERE ");
    condition(b);
    b.sql(" LIMIT ").value(limit).sql(")");
  }
  std::string insert_identity_override() const override { return ""; }
  void table_exists(sql::Builder& b, const config::QualifiedName& name) const override {
    b.sql("SELECT 1 FROM pragma_table_list WHERE name = ").value(name.name);
    b.sql(" COLLATE NOCASE AND (").value(name.schema).sql(" = '' OR schema = ");
    b.value(name.schema).sql(" COLLATE NOCASE)");
  }
  void column_exists(sql::Builder& b, const config::QualifiedName& name,
                     const std::string& column) const override {
    b.sql("SELECT 1 FROM pragma_table_info(").value(name.name);
    if (!name.schema.empty()) b.sql(", ").value(name.schema);
    b.sql(") WHERE name = ").value(column).sql(" COLLATE NOCASE");
  }

  // Without IF NOT EXISTS, which SQLite's ALTER TABLE does not have.
  std::string add_column(const std::string& table, const std::string& column,
                         sql::ColumnType type) const override {
    return "ALTER TABLE " + table + " ADD COLUMN " + column + " " + column_type(type);
  }
};

}  // namespace

const sql::Dialect& sqlite_dialect() {
  static const SqliteDialect dialect;
  return dialect;
}

std::string seconds_ago(std::chrono::milliseconds age) {
  return fmt::format("-{:.3f} seconds", static_cast<double>(age.count()) / 1000.0);
}

}  // namespace batch_cleanup::store::sqlite
