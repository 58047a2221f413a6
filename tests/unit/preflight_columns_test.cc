// The preflight's checks of the expiry column and of the --where columns, from facts alone:
// a missing column, a column that holds no times under now() or --expired-for, and a literal
// against a time column are refused (exit 2); the rest passes.
#include "engine/preflight_columns.h"

#include <gtest/gtest.h>

#include <string>

#include "batch_cleanup/errors.h"
#include "store/postgres/pg_capabilities.h"

namespace batch_cleanup::engine {
namespace {

using store::TimeKind;

store::PreflightFacts facts_with(const std::vector<std::pair<std::string, TimeKind>>& columns) {
  store::PreflightFacts facts;
  facts.capabilities = store::postgres::postgres_capabilities(150000);
  facts.pending.name = "pending";
  facts.created.checked = true;
  for (const auto& [name, kind] : columns) {
    store::PreflightFacts::ConditionColumnFacts column;
    column.name = name;
    column.column.checked = true;
    column.column.exists = kind != TimeKind::kUnknown;
    column.column.type = kind == TimeKind::kWithZone ? "timestamp with time zone" : "boolean";
    column.kind = kind;
    facts.condition_columns.push_back(column);
  }
  return facts;
}

std::string refusal(const CleanupConfig& config, const store::PreflightFacts& facts) {
  try {
    check_expiry_and_conditions(config, facts);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "accepted";
}

TEST(PreflightColumnsTest, ConditionColumnsAgainstTheCatalog) {
  const auto facts = facts_with({{"is_verified", TimeKind::kNotATime},
                                 {"otp_locked_until", TimeKind::kWithZone},
                                 {"gone", TimeKind::kUnknown}});
  CleanupConfig config;
  config.conditions = {"is_verified = false",
                       "otp_locked_until IS NULL OR otp_locked_until < now()"};
  EXPECT_EQ(refusal(config, facts), "accepted");
  config.conditions = {"gone = 1"};
  EXPECT_NE(refusal(config, facts).find("column 'gone' does not exist in table 'pending'"),
            std::string::npos);
  config.conditions = {"is_verified < now()"};
  EXPECT_NE(refusal(config, facts).find("it cannot be compared with now()"), std::string::npos);
  config.conditions = {"NOT (otp_locked_until > 5)"};
  EXPECT_NE(refusal(config, facts).find("compare it with now()"), std::string::npos);
  config.conditions = {"otp_locked_until IN ('x')"};
  EXPECT_NE(refusal(config, facts).find("compare it with now()"), std::string::npos);
}

TEST(PreflightColumnsTest, TheExpiryColumnMustExistAndHoldTimes) {
  auto facts = facts_with({});
  CleanupConfig config;
  config.expired_for = std::chrono::hours(1);
  facts.expires.checked = true;
  EXPECT_NE(refusal(config, facts).find("column 'expires_at' does not exist"), std::string::npos);
  facts.expires.exists = true;
  facts.expires.type = "text";
  facts.expires_kind = TimeKind::kNotATime;
  EXPECT_NE(refusal(config, facts).find("--expired-for needs a timestamp"), std::string::npos);
  facts.expires_kind = TimeKind::kWithoutZone;
  EXPECT_EQ(refusal(config, facts), "accepted");
  facts.created.checked = false;
  facts.created_time_zone_error = "time zone \"Mars\" not recognized";
  EXPECT_NE(refusal(config, facts).find("invalid --created-time-zone"), std::string::npos);
}

}  // namespace
}  // namespace batch_cleanup::engine
