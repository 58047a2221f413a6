// The preflight's choice of batch shape, from facts alone (no database): email ranges only
// where the measured facts say they pay, keyset order, and the notes that explain says.
#include "engine/preflight.h"

#include <gtest/gtest.h>

#include <string>

#include "batch_cleanup/errors.h"
#include "engine/batch_loop.h"
#include "store/postgres/pg_capabilities.h"
#include "store/sqlite/sqlite_capabilities.h"

namespace batch_cleanup::engine {
namespace {

// A PostgreSQL 15 plain table with unique email indexes on both sides, on the bench data at
// 1M rows: 15,384 pages, 31 rows per page visited in email order, 128 MB shared_buffers.
store::PreflightFacts bench_like_facts() {
  store::PreflightFacts facts;
  facts.server_version_num = 150000;
  facts.capabilities = store::postgres::postgres_capabilities(facts.server_version_num);
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

// The archive is part of the batch plan the stores are configured with: their batches archive
// what they delete when an archive table is configured, and never in a dry run.
TEST(PreflightShapeTest, ThePlanSaysWhetherTheBatchesArchive) {
  CleanupConfig config;
  EXPECT_FALSE(decide_preflight(config, bench_like_facts()).plan.archive);
  config.archive_table = "ops.archive";
  EXPECT_TRUE(decide_preflight(config, bench_like_facts()).plan.archive);
  config.dry_run = true;
  EXPECT_FALSE(decide_preflight(config, bench_like_facts()).plan.archive);
}

// The preflight decides from the store's capabilities, never from its name: a backend with a
// clustered primary key and nothing of PostgreSQL's (no physical order, no email ranges, no SKIP
// LOCKED, an old server) is served by what it has, and refused, in its own name, where it cannot.
store::PreflightFacts third_backend_facts() {
  auto facts = bench_like_facts();
  facts.capabilities = store::Capabilities{};
  facts.capabilities.backend = "thirdsql";
  facts.capabilities.product = "ThirdSQL";
  facts.capabilities.savepoints = true;
  facts.server_version = "7.1";
  return facts;
}

TEST(PreflightCapabilitiesTest, ABackendWithoutPhysicalOrderOrEmailRangesGetsKeyBatches) {
  const auto decision = decide_preflight(CleanupConfig{}, third_backend_facts());
  EXPECT_EQ(decision.strategy, "key");
  EXPECT_EQ(decision.plan.addressing, store::Addressing::kKey);
  EXPECT_FALSE(decision.plan.keyset_by_email);  // no email keyset capability
  EXPECT_FALSE(decision.plan.skip_locked);      // no SKIP LOCKED: found by the lock probe
  // No advice to grant UPDATE for a SKIP LOCKED the backend does not have.
  for (const auto& warning : decision.warnings) {
    EXPECT_EQ(warning.find("UPDATE privilege"), std::string::npos) << warning;
  }
}

TEST(PreflightCapabilitiesTest, WhatTheBackendCannotDoIsRefusedInItsOwnName) {
  CleanupConfig physical;
  physical.batch_strategy = BatchStrategy::kPhysical;
  try {
    decide_preflight(physical, third_backend_facts());
    ADD_FAILURE() << "physical batches were accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("ThirdSQL offers none"), std::string::npos) << e.what();
  }
  CleanupConfig email;
  email.batch_strategy = BatchStrategy::kEmail;
  try {
    decide_preflight(email, third_backend_facts());
    ADD_FAILURE() << "email ranges were accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("ThirdSQL cannot"), std::string::npos) << e.what();
  }
  auto old = third_backend_facts();
  old.capabilities.oldest_supported = "ThirdSQL 8";
  try {
    decide_preflight(CleanupConfig{}, old);
    ADD_FAILURE() << "an unsupported server was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("ThirdSQL 7.1 is not supported: batch_cleanup needs "
                                         "ThirdSQL 8 or later"),
              std::string::npos)
        << e.what();
  }
}

TEST(PreflightCapabilitiesTest, PostgresCapabilitiesFollowTheServerVersion) {
  const auto v11 = store::postgres::postgres_capabilities(110000);
  EXPECT_EQ(v11.oldest_supported, "PostgreSQL 12");
  const auto v15 = store::postgres::postgres_capabilities(150000);
  EXPECT_TRUE(v15.oldest_supported.empty());
  EXPECT_EQ(v15.backend, "postgresql");
  EXPECT_EQ(v15.physical_order, store::PhysicalOrder::kHeapPages);
  EXPECT_TRUE(v15.skip_locked && v15.transaction_scoped_settings && v15.parallel_slices);
  // An old server's ctid ranges are refused with what they need.
  CleanupConfig physical;
  physical.batch_strategy = BatchStrategy::kPhysical;
  auto facts = bench_like_facts();
  facts.server_version = "13.4";
  facts.physical = store::PhysicalSupport::kServerTooOld;
  try {
    decide_preflight(physical, facts);
    ADD_FAILURE() << "ctid ranges were accepted on PostgreSQL 13";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("needs PostgreSQL 14 or later (Tid Range Scan), but the "
                                         "server is 13.4"),
              std::string::npos)
        << e.what();
  }
}

// The message of the GuardError `decide` throws; empty when it throws none.
template <typename Decide>
std::string guard_message(Decide decide) {
  try {
    decide();
  } catch (const GuardError& e) {
    return e.what();
  }
  return "";
}

TEST(PreflightDistinctReadsTest, AUsersTableReadingWhatThePendingTableReadsIsRefused) {
  auto facts = bench_like_facts();
  facts.users.name = "users_view";
  facts.users.kind = "relkind v";
  facts.users_reads = {"public.pending", "public.users_view"};
  facts.shared_reads = {"public.pending"};
  const std::string message = guard_message([&] { decide_preflight(CleanupConfig{}, facts); });
  EXPECT_NE(message.find("guard 'distinct-tables' refused to run: the users table 'users_view' "
                         "(relkind v) reads public.pending, which the pending table 'pending' "
                         "reads too"),
            std::string::npos)
      << message;
  // No override: a users table that is the pending table in disguise never runs.
  CleanupConfig allowing;
  allowing.allow_unverified_users_table = true;
  EXPECT_THROW(decide_preflight(allowing, facts), GuardError);
}

TEST(PreflightDistinctReadsTest, WhatCannotBeFollowedIsRefusedUnlessTheOperatorVouches) {
  auto facts = bench_like_facts();
  facts.users_reads = {"public.users"};
  facts.unverified_reads = {"foreign table public.users (server remote)"};
  const std::string message = guard_message([&] { decide_preflight(CleanupConfig{}, facts); });
  EXPECT_NE(message.find("reads foreign table public.users (server remote), and what that reads "
                         "cannot be followed"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("--allow-unverified-users-table"), std::string::npos) << message;

  CleanupConfig allowing;
  allowing.allow_unverified_users_table = true;
  const auto decision = decide_preflight(allowing, facts);
  ASSERT_FALSE(decision.warnings.empty());
  EXPECT_NE(decision.warnings.front().find("did not verify what the users table 'users' reads "
                                           "through foreign table public.users (server remote)"),
            std::string::npos)
      << decision.warnings.front();
}

TEST(PreflightDistinctReadsTest, DistinctTablesRunWithoutWarning) {
  auto facts = bench_like_facts();
  facts.users_reads = {"public.users"};
  const auto decision = decide_preflight(CleanupConfig{}, facts);
  EXPECT_TRUE(decision.warnings.empty());
  EXPECT_EQ(notes(decision).find("users table 'users' reads"), std::string::npos);
  // A view over another table runs, and the notes say what it reads.
  facts.users.name = "active_users";
  facts.users_reads = {"public.active_users", "public.users"};
  EXPECT_NE(notes(decide_preflight(CleanupConfig{}, facts))
                .find("users table 'active_users' reads public.active_users, public.users (none "
                      "of them read by 'pending')"),
            std::string::npos);
}

// The email columns of bench_like_facts() with collations.
store::PreflightFacts collated_facts(const char* users_collation, bool users_exact,
                                     bool users_citext = false) {
  auto facts = bench_like_facts();
  facts.pending_email.collation = "default";
  facts.users_email.collation = users_collation;
  facts.users_email.collation_exact = users_exact;
  facts.users_email.case_insensitive_type = users_citext;
  if (users_citext) facts.users_email.type = "citext";
  return facts;
}

TEST(PreflightEmailComparisonTest, ByteEqualityIsNamedInTheNotes) {
  const auto decision = decide_preflight(CleanupConfig{}, collated_facts("C", true));
  EXPECT_EQ(decision.email_comparison,
            "users.email = pending.email, byte for byte: users.email is text collate \"C\", "
            "pending.email is text collate \"default\"");
  EXPECT_NE(notes(decision).find("email comparison: users.email = pending.email, byte for byte"),
            std::string::npos)
      << notes(decision);
}

TEST(PreflightEmailComparisonTest, ANondeterministicCollationIsRefusedUnlessAccepted) {
  const auto facts = collated_facts("ci", false);
  for (const auto normalization :
       {EmailNormalization::kNone, EmailNormalization::kLower, EmailNormalization::kLowerTrim}) {
    CleanupConfig config;
    config.normalize_email = normalization;
    const std::string message = guard_message([&] { decide_preflight(config, facts); });
    EXPECT_NE(message.find("guard 'exact-email' refused to run"), std::string::npos) << message;
    EXPECT_NE(message.find("users.email is text collate \"ci\" (nondeterministic), whose = is "
                           "not byte equality"),
              std::string::npos)
        << message;
  }
  CleanupConfig accepting;
  accepting.normalize_email = EmailNormalization::kCollation;
  const auto decision = decide_preflight(accepting, facts);
  EXPECT_EQ(decision.email_comparison,
            "users.email = pending.email, by the columns' own equality (--normalize-email "
            "collation): users.email is text collate \"ci\" (nondeterministic), pending.email is "
            "text collate \"default\"");
  // Email ranges compare byte for byte: not under the collation's equality.
  EXPECT_NE(decision.strategy, "email");
}

TEST(PreflightEmailComparisonTest, CitextIsRefusedAsStoredButLowercasedReadsItAsText) {
  const auto facts = collated_facts("default", true, /*users_citext=*/true);
  const std::string message = guard_message([&] { decide_preflight(CleanupConfig{}, facts); });
  EXPECT_NE(message.find("users.email is citext collate \"default\" (a case-insensitive type)"),
            std::string::npos)
      << message;
  CleanupConfig lower;
  lower.normalize_email = EmailNormalization::kLower;
  EXPECT_EQ(
      decide_preflight(lower, facts)
          .email_comparison.rfind(
              "lower(users.email) = lower(pending.email), the lowercased values byte for byte", 0),
      0u);
}

TEST(PreflightEmailComparisonTest, WhereFunctionsDropTheCollationLowerIsByteEquality) {
  auto facts = collated_facts("NOCASE", false);
  facts.capabilities = store::sqlite::sqlite_capabilities();
  EXPECT_THROW(decide_preflight(CleanupConfig{}, facts), GuardError);
  CleanupConfig lower;
  lower.normalize_email = EmailNormalization::kLowerTrim;
  EXPECT_NO_THROW(decide_preflight(lower, facts));
}

TEST(PreflightEmailComparisonTest, NoComparisonWithoutTheEmailPolicy) {
  CleanupConfig config;
  config.match_email = false;
  config.match_phone = true;
  auto facts = collated_facts("ci", false);
  facts.pending_phone = facts.users_phone = facts.key;
  const auto decision = decide_preflight(config, facts);
  EXPECT_TRUE(decision.email_comparison.empty());
}

// A Galera node: the batch bound is the lower of wsrep_max_ws_rows (less the lease row each
// batch renews) and half of wsrep_max_ws_size over the row's size; none without limits.
TEST(PreflightClusterTest, BatchesStayUnderTheWriteSetLimits) {
  auto facts = bench_like_facts();
  facts.cluster.galera = true;
  facts.cluster.nodes = 3;
  facts.cluster.state = "Synced";
  facts.cluster.own_rows_per_batch = 1;
  EXPECT_EQ(decide_preflight(CleanupConfig{}, facts).plan.max_batch_rows, 0);
  facts.cluster.max_write_set_rows = 1000;
  facts.cluster.max_write_set_bytes = 2147483647;
  facts.cluster.bytes_per_row = 200;
  CleanupConfig config;
  config.batch_size = 5000;
  auto decision = decide_preflight(config, facts);
  EXPECT_EQ(decision.plan.max_batch_rows, 999);
  EXPECT_NE(notes(decision).find("Galera cluster of 3 node(s), this one Synced: batches clamped "
                                 "from 5000 to 999 rows (wsrep_max_ws_rows 1000, less 1 row(s) of "
                                 "the lease); flow control not watched"),
            std::string::npos)
      << notes(decision);
  facts.cluster.max_write_set_bytes = 200000;  // half of it: 500 rows of 200 bytes
  decision = decide_preflight(config, facts);
  EXPECT_EQ(decision.plan.max_batch_rows, 500);
  EXPECT_NE(notes(decision).find("wsrep_max_ws_size 200000 bytes, about 200 bytes a row"),
            std::string::npos)
      << notes(decision);
  facts.cluster.galera = false;
  EXPECT_EQ(decide_preflight(config, facts).plan.max_batch_rows, 0);
}

// Flow control holds the cluster when it paused it since the previous reading, or when this
// node's receive queue reaches half of gcs.fc_limit.
TEST(PreflightClusterTest, FlowControlHoldsTheCluster) {
  store::ReplicationLag lag;
  EXPECT_FALSE(galera_held(lag));
  lag.flow_control_paused = std::chrono::milliseconds(1);
  EXPECT_FALSE(galera_held(lag));  // not a Galera reading
  lag.galera = true;
  EXPECT_TRUE(galera_held(lag));
  lag.flow_control_paused = std::chrono::milliseconds(0);
  lag.recv_queue_limit = 16;
  lag.recv_queue = 7;
  EXPECT_FALSE(galera_held(lag));
  lag.recv_queue = 8;
  EXPECT_TRUE(galera_held(lag));
}

}  // namespace
}  // namespace batch_cleanup::engine
