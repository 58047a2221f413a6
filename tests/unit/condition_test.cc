#include "config/condition.h"

#include <gtest/gtest.h>

#include "batch_cleanup/errors.h"

namespace batch_cleanup::config {
namespace {

using std::chrono::milliseconds;

std::string canonical(std::string_view text) { return describe_condition(*parse_condition(text)); }

// The message of the ConfigError `text` is refused with.
std::string refusal(std::string_view text) {
  try {
    parse_condition(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "accepted";
}

TEST(ConditionTest, Comparisons) {
  const auto node = parse_condition("is_verified = false");
  ASSERT_EQ(node->kind, ConditionNode::Kind::kCompare);
  EXPECT_EQ(node->column, "is_verified");
  EXPECT_EQ(node->op, ConditionOp::kEq);
  const auto& literal = std::get<ConditionLiteral>(node->value);
  EXPECT_EQ(literal.type, ConditionLiteral::Type::kBoolean);
  EXPECT_FALSE(literal.boolean);

  EXPECT_EQ(canonical("a<>1"), "a <> 1");
  EXPECT_EQ(canonical("a != 1"), "a <> 1");
  EXPECT_EQ(canonical("a <= -5"), "a <= -5");
  EXPECT_EQ(canonical("a >= 2.50"), "a >= 2.50");
  EXPECT_EQ(canonical("a > 'it''s'"), "a > 'it''s'");
  EXPECT_EQ(canonical("a < TRUE"), "a < true");
  const auto integer = parse_condition("attempts >= 3");
  EXPECT_EQ(std::get<ConditionLiteral>(integer->value).integer, 3);
  const auto decimal = parse_condition("score < 0.5");
  EXPECT_DOUBLE_EQ(std::get<ConditionLiteral>(decimal->value).decimal, 0.5);
  EXPECT_EQ(std::get<ConditionLiteral>(parse_condition("s = 'x'")->value).text, "x");
}

TEST(ConditionTest, NowAndIntervals) {
  EXPECT_EQ(std::get<ConditionNow>(parse_condition("t < now()")->value).offset, milliseconds(0));
  EXPECT_EQ(
      std::get<ConditionNow>(parse_condition("t < NOW() - interval '15 minutes'")->value).offset,
      milliseconds(-900'000));
  EXPECT_EQ(std::get<ConditionNow>(parse_condition("t > now() + INTERVAL '2h'")->value).offset,
            milliseconds(7'200'000));
  EXPECT_EQ(std::get<ConditionNow>(parse_condition("t > now() - interval '1 day'")->value).offset,
            milliseconds(-86'400'000));
  EXPECT_EQ(canonical("t < now() - interval '15m'"), "t < now() - interval '15m'");
}

TEST(ConditionTest, NullsListsAndLogic) {
  EXPECT_EQ(canonical("otp_locked_until IS NULL OR otp_locked_until < now()"),
            "otp_locked_until IS NULL OR otp_locked_until < now()");
  EXPECT_EQ(canonical("a is not null"), "a IS NOT NULL");
  EXPECT_EQ(canonical("role IN ('customer')"), "role IN ('customer')");
  EXPECT_EQ(canonical("role not in ('a', 'b', 3)"), "role NOT IN ('a', 'b', 3)");
  // AND binds tighter than OR; parentheses and NOT are kept.
  const auto node = parse_condition("a = 1 OR b = 2 AND c = 3");
  ASSERT_EQ(node->kind, ConditionNode::Kind::kOr);
  ASSERT_EQ(node->children.size(), 2U);
  EXPECT_EQ(node->children[1]->kind, ConditionNode::Kind::kAnd);
  EXPECT_EQ(canonical("(a = 1 OR b = 2) AND NOT c = 3"), "(a = 1 OR b = 2) AND NOT c = 3");
  EXPECT_EQ(canonical("NOT (a = 1 AND b = 2)"), "NOT (a = 1 AND b = 2)");
  EXPECT_EQ(canonical("((a = 1))"), "a = 1");
  const auto columns = condition_columns(*parse_condition("a = 1 OR (b IS NULL AND a < now())"));
  EXPECT_EQ(columns, (std::vector<std::string>{"a", "b"}));
}

TEST(ConditionTest, RefusesWhatTheLanguageCannotExpressWithThePosition) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "the condition is empty at position 1"},
      {"a = 1; DROP TABLE users", "';' is not part of the condition language"},
      {"a = 1 -- comment", "comments are not allowed at position 7"},
      {"a = 1 /* c */", "comments are not allowed at position 7"},
      {"lower(email) = 'x'",
       "function 'lower' is not supported (only now(), on the right) at "
       "position 1"},
      {"a = lower('x')", "function 'lower' is not supported"},
      {"a IN (SELECT id FROM users)", "subqueries are not supported at position 7"},
      {"EXISTS (SELECT 1)", "subqueries are not supported at position 1"},
      {"a = b",
       "column-to-column comparisons are not supported ('b' is not a literal; quote "
       "text in single quotes) at position 5"},
      {"now() > a", "now() goes on the right"},
      {"a = NULL", "write IS NULL or IS NOT NULL at position 5"},
      {"a IS 5", "expected NULL after IS, found '5' at position 6"},
      {"a = 'open", "unterminated string at position 5"},
      {"(a = 1", "'(' is never closed at position 1"},
      {"a = 1)", "')' without its '(' at position 6"},
      {"a = 1 b = 2", "expected AND, OR or the end of the condition, found 'b' at position 7"},
      {"a LIKE 'x%'", "like is not supported at position 3"},
      {"a",
       "expected an operator (= <> != < <= > >=), IS [NOT] NULL or [NOT] IN after 'a', found "
       "the end at position 2"},
      {"a < now() - 5", "expected INTERVAL 'DURATION' after now() -, found '5' at position 13"},
      {"a < now() - interval 'soon'", "invalid interval 'soon'"},
      {"a = 99999999999999999999", "out of range at position 5"},
      {"\"a\" = 1", "quoted identifiers are not supported"},
      {"a = 1 AND", "expected a column of the pending table, found the end"},
      {"a IN ()", "expected a literal"},
      {"a = @x", "unexpected character '@' at position 5"},
      {"and = 1", "expected a column, found keyword 'and' at position 1"},
  };
  for (const auto& [text, expected] : cases) {
    const std::string message = refusal(text);
    EXPECT_NE(message.find(expected), std::string::npos) << "'" << text << "' gave: " << message;
    if (message != "accepted") {
      EXPECT_EQ(message.rfind("--where '", 0), 0U) << message;
    }
  }
}

}  // namespace
}  // namespace batch_cleanup::config
