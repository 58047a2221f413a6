// The condition language of --where: conditions the application keeps, on columns of the pending
// table, without raw SQL. A pure parser: text in, a tree out (no SQL, no catalog); the store
// renders the tree with every literal a bound parameter and every column a quoted identifier.
//
// Grammar (keywords case-insensitive; a column is [A-Za-z_][A-Za-z0-9_$]*):
//   condition  := or
//   or         := and ( OR and )*
//   and        := not ( AND not )*
//   not        := NOT not | primary
//   primary    := '(' or ')' | column test
//   test       := op value | IS [NOT] NULL | [NOT] IN '(' literal ( ',' literal )* ')'
//   op         := = | <> | != | < | <= | > | >=
//   value      := literal | now
//   now        := now() [ ( + | - ) INTERVAL 'DURATION' ]   DURATION: 15m, 2h, 7d, 90s,
//                 or words: '15 minutes', '1 hour', '2 days'
//   literal    := 'text' ('' for a quote) | integer | decimal | TRUE | FALSE
// Anything else (other functions, subqueries, column-to-column comparisons, ';', comments) is
// refused with the position of the fault.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace batch_cleanup::config {

struct ConditionLiteral {
  enum class Type { kText, kInteger, kDecimal, kBoolean };
  Type type = Type::kText;
  std::string text;  // kText: the value; kDecimal: its digits as written
  std::int64_t integer = 0;
  double decimal = 0;
  bool boolean = false;
};

// now() plus `offset` (negative: in the past).
struct ConditionNow {
  std::chrono::milliseconds offset{0};
};

enum class ConditionOp { kEq, kNe, kLt, kLe, kGt, kGe };

struct ConditionNode;
using ConditionPtr = std::shared_ptr<const ConditionNode>;

struct ConditionNode {
  enum class Kind { kAnd, kOr, kNot, kCompare, kIsNull, kIn };
  Kind kind = Kind::kCompare;
  std::vector<ConditionPtr> children;                  // kAnd, kOr: two or more; kNot: one
  std::string column;                                  // kCompare, kIsNull, kIn: as written
  ConditionOp op = ConditionOp::kEq;                   // kCompare
  std::variant<ConditionLiteral, ConditionNow> value;  // kCompare
  bool negated = false;                                // IS NOT NULL, NOT IN
  std::vector<ConditionLiteral> list;                  // kIn
};

// Parses `text`. Throws ConfigError "--where '<text>': <fault> at position N" (1-based, in
// characters of `text`) for anything outside the grammar.
ConditionPtr parse_condition(std::string_view text);

// The columns the condition names, each once, in order of appearance.
std::vector<std::string> condition_columns(const ConditionNode& node);

// The condition in a canonical form, for explain and logs ("(a IS NULL OR a < now() - 15m)").
std::string describe_condition(const ConditionNode& node);

// SQL's spelling of `op`.
const char* condition_op_text(ConditionOp op);

}  // namespace batch_cleanup::config
