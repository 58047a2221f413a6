// The condition tree as text: its canonical form for explain and logs, its columns, its
// operators.
#include <algorithm>

#include "config/condition.h"
#include "config/duration.h"

namespace batch_cleanup::config {
namespace {

std::string literal_text(const ConditionLiteral& literal) {
  if (literal.type != ConditionLiteral::Type::kText) return literal.text;
  std::string out = "'";
  for (const char c : literal.text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

void collect(const ConditionNode& node, std::vector<std::string>& out) {
  if (!node.column.empty() && std::find(out.begin(), out.end(), node.column) == out.end()) {
    out.push_back(node.column);
  }
  for (const auto& child : node.children) collect(*child, out);
}

std::string describe(const ConditionNode& node, bool nested) {
  switch (node.kind) {
    case ConditionNode::Kind::kAnd:
    case ConditionNode::Kind::kOr: {
      std::string out;
      const char* joiner = node.kind == ConditionNode::Kind::kAnd ? " AND " : " OR ";
      for (std::size_t i = 0; i < node.children.size(); ++i) {
        if (i > 0) out += joiner;
        out += describe(*node.children[i], true);
      }
      return nested ? "(" + out + ")" : out;
    }
    case ConditionNode::Kind::kNot:
      return "NOT " + describe(*node.children.front(), true);
    case ConditionNode::Kind::kIsNull:
      return node.column + (node.negated ? " IS NOT NULL" : " IS NULL");
    case ConditionNode::Kind::kIn: {
      std::string out = node.column + (node.negated ? " NOT IN (" : " IN (");
      for (std::size_t i = 0; i < node.list.size(); ++i) {
        if (i > 0) out += ", ";
        out += literal_text(node.list[i]);
      }
      return out + ")";
    }
    case ConditionNode::Kind::kCompare:
      break;
  }
  std::string out = node.column + " " + condition_op_text(node.op) + " ";
  if (const auto* now = std::get_if<ConditionNow>(&node.value)) {
    out += "now()";
    if (now->offset.count() < 0) out += " - interval '" + format_duration(-now->offset) + "'";
    if (now->offset.count() > 0) out += " + interval '" + format_duration(now->offset) + "'";
    return out;
  }
  return out + literal_text(std::get<ConditionLiteral>(node.value));
}

}  // namespace

std::vector<std::string> condition_columns(const ConditionNode& node) {
  std::vector<std::string> out;
  collect(node, out);
  return out;
}

std::string describe_condition(const ConditionNode& node) { return describe(node, false); }

const char* condition_op_text(ConditionOp op) {
  switch (op) {
    case ConditionOp::kEq:
      return "=";
    case ConditionOp::kNe:
      return "<>";
    case ConditionOp::kLt:
      return "<";
    case ConditionOp::kLe:
      return "<=";
    case ConditionOp::kGt:
      return ">";
    case ConditionOp::kGe:
      break;
  }
  return ">=";
}

}  // namespace batch_cleanup::config
