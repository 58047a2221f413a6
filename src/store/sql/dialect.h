// What differs between the SQL of two backends, and nothing else: identifier quoting, placeholders
// and casts, trim, conditional counts, list membership, the database's clock, bounded deletes,
// catalog probes and DDL types. The statements themselves are written once (store/sql/*.cc)
// against this interface, so a third SQL backend adds a dialect and its own batch algorithm, and
// the engine does not change.
//
// `Builder&` methods append to the statement being built and bind what they need. Type names
// given to Builder::cast() and the methods below are PostgreSQL's ("text[]", "timestamptz"); a
// dialect without casts ignores them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "config/identifier.h"
#include "store/sql/builder.h"
#include "store/sql/value.h"

namespace batch_cleanup::store::sql {

// Column types of the tables the tool creates (the history table).
enum class ColumnType { kText, kInteger, kReal, kTimestamp };

// How a statement's markers name its parameters.
enum class Placeholders {
  kNumbered,    // "$1" / "?1": a slot used twice is one marker number, bound once
  kPositional,  // "?": one marker, and one bound value, per use
};

// The slot a dialect that fixes "now" per batch binds the clock to (see clock_minus()).
inline constexpr const char* kNowSlot = "clock_now";

// Appends a boolean condition to a statement being built.
using Condition = std::function<void(Builder&)>;

// The SQL standard's forms are the defaults below; a dialect overrides where its database
// differs.
class Dialect {
 public:
  // The DDL types of a dialect: the names of ColumnType's values, in order, and the type and
  // words of an integer primary key the database numbers itself.
  struct DdlTypes {
    const char* column_types[4];
    const char* generated_key;
  };
  explicit Dialect(const DdlTypes& ddl) : ddl_(ddl) {}
  virtual ~Dialect() = default;

  // ---- Identifiers

  // `identifier` quoted for this database: a configured name (validated by config/identifier.h)
  // or one read from the catalog (a column), whose quote characters are escaped.
  virtual std::string quote(std::string_view identifier) const = 0;
  // schema.name or name, each part quoted.
  std::string quote(const config::QualifiedName& name) const;

  // ---- Parameters

  virtual Placeholders placeholders() const = 0;
  // The marker of parameter `number` (1-based): "$1" / "?1", or "?" for a positional dialect.
  virtual std::string placeholder(int number) const = 0;
  // The suffix that casts a value to `type_name` ("::tid"), or "" where values are untyped.
  virtual std::string cast(std::string_view type_name) const {
    (void)type_name;
    return "";
  }

  // ---- Expressions

  // `expr` as text (for keys and emails read back).
  virtual std::string text(const std::string& expr) const = 0;
  // `expr` without leading and trailing spaces, as text.
  virtual std::string trim(const std::string& expr) const { return "trim(" + expr + ")"; }
  virtual std::string true_value() const = 0;
  virtual std::string false_value() const = 0;
  // `a = b` for text compared byte for byte. A backend whose text columns compare under a
  // collation that equates more (MySQL's _ci collations, PAD SPACE) keeps the index-friendly
  // `a = b` and adds the byte comparison.
  virtual std::string text_equal(const std::string& a, const std::string& b) const {
    return a + " = " + b;
  }
  // `expr` as a value that groups and compares byte for byte, where text columns compare under
  // a collation that equates more (MySQL: BINARY expr).
  virtual std::string bytes(const std::string& expr) const { return expr; }
  // An aggregate: how many rows satisfy `condition` (0 on no rows).
  virtual std::string count_if(const std::string& condition) const {
    return "coalesce(sum(" + condition + "), 0)";
  }
  // Text appended to the EXISTS probe of a batch statement so the planner probes the users
  // table row by row instead of joining it whole ("" where the planner needs no fence).
  virtual std::string probe_fence() const { return ""; }

  // ---- Lists of text values, bound as one parameter

  // The encoding of `items` as one parameter value (a JSON array, or a PostgreSQL array literal).
  virtual Value list_value(const std::vector<std::string>& items) const;
  // `expr IN list`; NULL when expr is NULL.
  virtual void in_list(Builder& b, const std::string& expr, const Value& list) const = 0;
  // A FROM item with one row per item of `list` (from slot `slot`), in column `value` of alias `k`.
  virtual void list_rows(Builder& b, std::string_view slot) const = 0;
  // An aggregate: the distinct values of `expr` as a list (list_value's encoding).
  virtual std::string list_aggregate(const std::string& expr) const = 0;
  // Whether the part of `email` after its last '@' is in `list`; NULL or false otherwise.
  virtual void domain_in_list(Builder& b, const std::string& email, const Value& list) const = 0;

  // ---- Time, on the database's clock

  // The creation column `column` (qualified) as a comparable instant. `zone`: the time zone a
  // value stored without one is read in; empty when the column carries its zone (or the dialect
  // reads times without an offset as UTC).
  virtual void created_instant(Builder& b, const std::string& column,
                               const std::string& zone) const = 0;
  // The instant `age` ago, comparable with created_instant(). `cutoff_slot` names the slot a
  // dialect that fixes "now" per batch binds it to (see needs_cutoff_slots()).
  virtual void age_cutoff(Builder& b, std::chrono::milliseconds age,
                          std::string_view cutoff_slot) const = 0;
  // The instant `age` before now (a negative age: after now), comparable with
  // created_instant(), for the expiry column and the now() of --where conditions. A dialect that
  // fixes "now" per batch reads it from slot kNowSlot.
  virtual void clock_minus(Builder& b, std::chrono::milliseconds age) const {
    age_cutoff(b, age, kNowSlot);
  }
  // True when age_cutoff() leaves a slot that each execution fills (SQLite, whose 'now' moves
  // between the statements of one batch); false when the database's now() is fixed per
  // transaction (PostgreSQL).
  virtual bool needs_cutoff_slots() const = 0;
  // `column` (a timestamp the tool wrote: archived_at) is older than `age`.
  virtual void written_before(Builder& b, const std::string& column,
                              std::chrono::milliseconds age) const = 0;
  // `column` (a timestamp the tool wrote) is at or after `iso8601` (UTC when it has no zone).
  virtual void written_since(Builder& b, const std::string& column,
                             const std::string& iso8601) const = 0;
  // A timestamp the tool writes, given as ISO-8601 UTC text ("2026-01-02T03:04:05.678Z"), bound
  // as a parameter of a column of column_type(kTimestamp).
  virtual void timestamp(Builder& b, const std::string& iso8601) const {
    b.value(iso8601).cast("timestamptz");
  }
  // `column` (a timestamp the tool wrote) as ISO-8601 UTC text with milliseconds.
  virtual std::string iso8601(const std::string& column) const = 0;

  // ---- Rows and catalogs

  // A DELETE of at most `limit` rows of `table` (quoted) that satisfy `condition`, which names
  // the table's columns unqualified. `order_by` (a column) is the order a dialect that deletes
  // with ORDER BY ... LIMIT on the table itself takes them in; others may ignore it.
  virtual void delete_up_to(Builder& b, const std::string& table, const Condition& condition,
                            const std::string& order_by, std::int64_t limit) const = 0;
  // Words after INSERT INTO t (cols) that let it write identity columns ("" when no need).
  virtual std::string insert_identity_override() const = 0;
  // A query returning one row when the table `name` exists.
  virtual void table_exists(Builder& b, const config::QualifiedName& name) const = 0;
  // A query returning one row when the table `name` has the column `column`.
  virtual void column_exists(Builder& b, const config::QualifiedName& name,
                             const std::string& column) const = 0;

  // ---- DDL

  std::string column_type(ColumnType type) const {
    return ddl_.column_types[static_cast<int>(type)];
  }
  // The definition of an integer primary key the database numbers itself.
  std::string generated_key(const std::string& column) const {
    return column + " " + ddl_.generated_key;
  }
  // ALTER TABLE adding a column (idempotent where the dialect can say so).
  virtual std::string add_column(const std::string& table, const std::string& column,
                                 ColumnType type) const {
    return "ALTER TABLE " + table + " ADD COLUMN IF NOT EXISTS " + column + " " + column_type(type);
  }

 private:
  DdlTypes ddl_;
};

// `identifier` in double quotes, a double quote doubled (the SQL standard's quoting).
std::string double_quoted(std::string_view identifier);

}  // namespace batch_cleanup::store::sql
