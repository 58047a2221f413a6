// One SQL builder for every statement of both stores: text is appended in order and values are
// bound as parameters whose placeholders the builder numbers itself, in the dialect's style
// ($1 on PostgreSQL, ?1 on SQLite). A statement is built once and run many times: a value known
// when it is built is bound right away; a value that changes per execution (a batch's range, a
// cursor, a cycle id) is a named slot, filled when the statement runs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "store/sql/value.h"

namespace batch_cleanup::store::sql {

class Dialect;

// A built statement: its text and, per placeholder in order, a bound value or a slot name.
class Statement {
 public:
  Statement() = default;

  const std::string& text() const { return text_; }
  // Placeholders in the text ($1..$n); the same slot used twice is one placeholder.
  std::size_t parameter_count() const { return parameters_.size(); }
  bool empty() const { return text_.empty(); }
  bool has_slot(std::string_view name) const;
  // The placeholder number (1-based) of slot `name`; 0 when the statement has no such slot.
  int slot_number(std::string_view name) const;

  // The parameter values of one execution, in placeholder order: the bound values, and each
  // slot's value from `slots`. Throws std::logic_error when a slot has no value.
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
  // Appends a placeholder for the slot `name`; the same name again reuses its placeholder.
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
