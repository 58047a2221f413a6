#include "config/identifier.h"

#include <gtest/gtest.h>

#include "batch_cleanup/errors.h"
#include "store/postgres/pg_dialect.h"
#include "store/sqlite/sqlite_dialect.h"

namespace batch_cleanup::config {
namespace {

TEST(IdentifierTest, AcceptsPlainNames) {
  EXPECT_EQ(validate_identifier("core_mstr_one_qlick_users_tbl", "t"),
            "core_mstr_one_qlick_users_tbl");
  EXPECT_EQ(validate_identifier("_x$1", "t"), "_x$1");
  EXPECT_EQ(validate_identifier(std::string(63, 'a'), "t"), std::string(63, 'a'));
}

TEST(IdentifierTest, RejectsInjectionAndOddNames) {
  for (const char* bad : {"", "1abc", "users; DROP TABLE users", "a-b", "a b", "\"users\"", "a.b",
                          "users--", "ü", "a\tb", "a'b"}) {
    EXPECT_THROW(validate_identifier(bad, "users table"), ConfigError) << bad;
  }
  EXPECT_THROW(validate_identifier(std::string(64, 'a'), "t"), ConfigError);
}

TEST(IdentifierTest, ErrorNamesTheSetting) {
  try {
    validate_identifier("a-b", "pending key");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(
        e.what(),
        "invalid pending key 'a-b': character '-' is not allowed (letters, digits, _ and $, "
        "not starting with a digit, at most 63 bytes)");
  }
}

// Quoting is the store's dialect's; PostgreSQL and SQLite double-quote.
const store::sql::Dialect* const kDoubleQuoting[] = {&store::postgres::pg_dialect(),
                                                     &store::sqlite::sqlite_dialect()};

TEST(IdentifierTest, SchemaQualifiedTables) {
  const auto plain = parse_table_name("users", "users table");
  EXPECT_EQ(plain.schema, "");
  for (const auto* dialect : kDoubleQuoting) EXPECT_EQ(dialect->quote(plain), "\"users\"");
  const auto qualified = parse_table_name("public.Users", "users table");
  EXPECT_EQ(qualified.schema, "public");
  EXPECT_EQ(qualified.name, "Users");
  for (const auto* dialect : kDoubleQuoting) {
    EXPECT_EQ(dialect->quote(qualified), "\"public\".\"Users\"");
  }
  EXPECT_EQ(qualified.display(), "public.Users");
  EXPECT_THROW(parse_table_name("a.b.c", "t"), ConfigError);
  EXPECT_THROW(parse_table_name(".b", "t"), ConfigError);
  EXPECT_THROW(parse_table_name("a.", "t"), ConfigError);
}

TEST(IdentifierTest, QuotingDoublesQuotes) {
  for (const auto* dialect : kDoubleQuoting) EXPECT_EQ(dialect->quote("a\"b"), "\"a\"\"b\"");
}

}  // namespace
}  // namespace batch_cleanup::config
