// The preflight's choice of batch shape, from facts alone (no database): email ranges only
// where the measured facts say they pay, keyset order, and the notes that explain says.
#include "engine/preflight.h"

#include <gtest/gtest.h>

#include <string>

#include "batch_cleanup/errors.h"

namespace batch_cleanup::engine {
namespace {

// A PostgreSQL 15 plain table with unique email indexes on both sides, on the bench data at
// 1M rows: 15,384 pages, 31 rows per page visited in email order, 128 MB shared_buffers.
store::PreflightFacts bench_like_facts() {
  store::PreflightFacts facts;
  facts.backend = "postgresql";
  facts.server_version_num = 150000;
  facts.server_version = "15.0";
  for (auto* table : {&facts.pending, &facts.users}) {
    table->exists = true;
    table->is_table = true;
    table->can_select = true;
    table->can_delete = true;
    table->can_update = true;
  }
  facts.pending.name = "pending";
  facts.users.name = "users";
  for (auto* column : {&facts.key, &facts.pending_email, &facts.users_email}) {
    column->checked = true;
    column->exists = true;
    column->type = "text";
  }
  facts.key_unique = true;
  facts.pending_email_unique = true;
  facts.users_email_index = {true, true, "", ""};
  facts.pending_pages = 15384;
  facts.email_order_rows_per_page = 31;
  facts.shared_buffers_pages = 16384;
  return facts;
}

std::string notes(const PreflightDecision& decision) {
  std::string out;
  for (const auto& note : decision.notes) out += note + "\n";
  return out;
}

TEST(PreflightShapeTest, EmailRangesWhereTheEmailOrderSharesPagesAndTheHeapFitsTheCache) {
  const auto decision = decide_preflight(CleanupConfig{}, bench_like_facts());
  EXPECT_EQ(decision.strategy, "email");
  EXPECT_EQ(decision.plan.addressing, store::Addressing::kEmailRanges);
  EXPECT_TRUE(decision.plan.keyset_by_email);
  EXPECT_NE(notes(decision).find("31.0 rows per heap page visited in email order, 15384 pages"),
            std::string::npos)
      << notes(decision);
}

TEST(PreflightShapeTest, CtidRangesOtherwiseWithTheReasonInTheNote) {
  struct Case {
    const char* what;
    void (*change)(CleanupConfig&, store::PreflightFacts&);
    const char* reason;
  };
  const Case cases[] = {
      {"scattered",
       [](CleanupConfig&, store::PreflightFacts& f) { f.email_order_rows_per_page = 1.1; },
       "(fewer than 4 rows per page)"},
      {"small", [](CleanupConfig&, store::PreflightFacts& f) { f.pending_pages = 999; },
       "fewer than 1000 pages"},
      {"bigger than shared_buffers",
       [](CleanupConfig&, store::PreflightFacts& f) { f.pending_pages = 77000; },
       "the heap (77000 pages) is larger than shared_buffers (16384 pages)"},
      {"workers", [](CleanupConfig& c, store::PreflightFacts&) { c.workers = 2; },
       "with --workers, page slices"},
      {"normalised",
       [](CleanupConfig& c, store::PreflightFacts&) {
         c.normalize_email = EmailNormalization::kLower;
       },
       "they compare emails exactly"},
      {"phone policy",
       [](CleanupConfig& c, store::PreflightFacts& f) {
         c.match_phone = true;
         f.pending_phone = f.users_phone = f.key;
       },
       "they need the email policy alone"},
      {"no unique email",
       [](CleanupConfig&, store::PreflightFacts& f) { f.pending_email_unique = false; },
       "and there is none"},
  };
  for (const auto& c : cases) {
    CleanupConfig config;
    auto facts = bench_like_facts();
    c.change(config, facts);
    const auto decision = decide_preflight(config, facts);
    EXPECT_EQ(decision.strategy, "physical") << c.what;
    EXPECT_NE(notes(decision).find(c.reason), std::string::npos)
        << c.what << ": " << notes(decision);
  }
}

TEST(PreflightShapeTest, ForcedEmailRangesSkipTheMeasurementButNotTheirConditions) {
  CleanupConfig config;
  config.batch_strategy = BatchStrategy::kEmail;
  auto facts = bench_like_facts();
  facts.email_order_rows_per_page = 1.1;
  EXPECT_EQ(decide_preflight(config, facts).strategy, "email");
  facts.pending_email_unique = false;
  EXPECT_THROW(decide_preflight(config, facts), ConfigError);
}

TEST(PreflightShapeTest, KeyBatchesWalkTheEmailWhereNoPolicyMatchesRowsWithoutOne) {
  CleanupConfig config;
  config.batch_strategy = BatchStrategy::kKey;
  auto decision = decide_preflight(config, bench_like_facts());
  EXPECT_EQ(decision.strategy, "key");
  EXPECT_TRUE(decision.plan.keyset_by_email);
  config.expire_after = std::chrono::hours(24);
  auto facts = bench_like_facts();
  facts.created = facts.key;
  facts.created.type = "timestamp with time zone";
  facts.created_kind = store::TimeKind::kWithZone;
  decision = decide_preflight(config, facts);
  EXPECT_FALSE(decision.plan.keyset_by_email);
  EXPECT_NE(notes(decision).find("the phone or expired policy"), std::string::npos)
      << notes(decision);
}

}  // namespace
}  // namespace batch_cleanup::engine
