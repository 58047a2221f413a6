#include "store/sql/condition_sql.h"

#include <stdexcept>

#include "store/sql/dialect.h"

namespace batch_cleanup::store::sql {
namespace {

const ConditionColumn& column_of(const ConditionColumns& columns, const std::string& name) {
  const auto found = columns.find(name);
  if (found == columns.end()) {
    throw std::logic_error("--where column '" + name + "' was not looked up in the catalog");
  }
  return found->second;
}

}  // namespace

Value literal_value(const config::ConditionLiteral& literal) {
  using Type = config::ConditionLiteral::Type;
  switch (literal.type) {
    case Type::kInteger:
      return literal.integer;
    case Type::kDecimal:
      return literal.decimal;
    case Type::kBoolean:
      return std::int64_t{literal.boolean ? 1 : 0};
    case Type::kText:
      break;
  }
  return literal.text;
}

void append_condition(Builder& b, const config::ConditionNode& node, std::string_view row,
                      const ConditionColumns& columns) {
  using Kind = config::ConditionNode::Kind;
  const auto qualified = [&](const ConditionColumn& c) {
    return std::string(row) + "." + c.quoted;
  };
  switch (node.kind) {
    case Kind::kAnd:
    case Kind::kOr: {
      b.sql("(");
      for (std::size_t i = 0; i < node.children.size(); ++i) {
        if (i > 0) b.sql(node.kind == Kind::kAnd ? " AND " : " OR ");
        append_condition(b, *node.children[i], row, columns);
      }
      b.sql(")");
      return;
    }
    case Kind::kNot:
      b.sql("NOT (");
      append_condition(b, *node.children.front(), row, columns);
      b.sql(")");
      return;
    case Kind::kIsNull:
      b.sql(qualified(column_of(columns, node.column)) +
            (node.negated ? " IS NOT NULL" : " IS NULL"));
      return;
    case Kind::kIn: {
      b.sql(qualified(column_of(columns, node.column)) + (node.negated ? " NOT IN (" : " IN ("));
      for (std::size_t i = 0; i < node.list.size(); ++i) {
        if (i > 0) b.sql(", ");
        b.value(literal_value(node.list[i]));
      }
      b.sql(")");
      return;
    }
    case Kind::kCompare:
      break;
  }
  const ConditionColumn& column = column_of(columns, node.column);
  const std::string op = std::string(" ") + config::condition_op_text(node.op) + " ";
  if (const auto* now = std::get_if<config::ConditionNow>(&node.value)) {
    b.dialect().created_instant(b, qualified(column), column.zone);
    b.sql(op);
    b.dialect().clock_minus(b, -now->offset);
    return;
  }
  b.sql(qualified(column) + op)
      .value(literal_value(std::get<config::ConditionLiteral>(node.value)));
}

}  // namespace batch_cleanup::store::sql
