// One SQL builder for every statement of every store: text is appended in order and values are
// bound as parameters whose markers the builder writes itself, in the dialect's style ($1 on
// PostgreSQL, ?1 on SQLite, ? for a positional dialect). A statement is built once and run many
// times: a value known when it is built is bound right away; a value that changes per execution (a
// batch's range, a cursor, a cycle id) is a named slot, filled when the statement runs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "store/sql/value.h"

namespace batch_cleanup::store::sql {

class Dialect;

// A built statement: its text and, per parameter in order, a bound value or a slot name. With a
// numbered dialect a slot used twice is one parameter (its number appears twice in the text);
// with a positional dialect each use is a marker and a parameter of its own.
class Statement {
 public:
  Statement() = default;

  const std::string& text() const { return text_; }
  // Parameters: the numbers $1..$n, or the markers of a positional dialect.
  std::size_t parameter_count() const { return parameters_.size(); }
  bool empty() const { return text_.empty(); }
  bool has_slot(std::string_view name) const;
  // The parameter number (1-based) of slot `name`; 0 when the statement has no such slot.
  // Throws std::logic_error when the slot is more than one parameter (a positional dialect's
  // statement using it twice): slot_positions() names them all.
  int slot_number(std::string_view name) const;
  // Every parameter number (1-based) of slot `name`, in order; empty when there is none.
  std::vector<int> slot_positions(std::string_view name) const;

  // The parameter values of one execution, in marker order: the bound values, and each slot's
  // value from `slots` (a slot used twice in a positional statement, twice). Throws
  // std::logic_error when a slot has no value.
  std::vector<Value> values(const Slots& slots = {}) const;

 private:
  friend class Builder;
  struct Parameter {
    std::string slot;  // empty: `value` was bound when the statement was built
    Value value;
  };
  std::string text_;
  std::vector<Parameter> parameters_;
};

// Not thread-safe; cheap to create.
class Builder {
 public:
  explicit Builder(const Dialect& dialect) : dialect_(dialect) {}

  // Appends SQL text as it is (identifiers must already be validated and quoted).
  Builder& sql(std::string_view text);
  // Appends a placeholder bound to `value`.
  Builder& value(Value value);
  // Appends a placeholder for the slot `name`; the same name again reuses its placeholder in a
  // numbered dialect, and is a parameter of its own in a positional one.
  Builder& slot(std::string_view name);
  // Appends the dialect's cast of the last placeholder to a type ("::tid"); nothing where the
  // dialect does not cast.
  Builder& cast(std::string_view type_name);

  const Dialect& dialect() const { return dialect_; }
  // Placeholders so far.
  std::size_t parameter_count() const { return statement_.parameters_.size(); }
  // The text so far.
  const std::string& text() const { return statement_.text_; }

  Statement build() const { return statement_; }

 private:
  const Dialect& dialect_;
  Statement statement_;
};

}  // namespace batch_cleanup::store::sql
