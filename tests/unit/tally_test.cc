// Tally: the one sum behind a cycle's report, the workers' shares, the service's totals and
// the metrics. operator+= must add every field; a field it forgets is a count that silently
// stops adding up somewhere.
#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "batch_cleanup/report.h"
#include "batch_cleanup/service.h"
#include "engine/batch_tally.h"
#include "store/batch_types.h"

namespace batch_cleanup {
namespace {

// Every field of Tally before dependent_rows (its last, a list added by table and action: see
// MergesDependentRowsByTableAndAction) is an 8-byte count (std::int64_t) or time (double),
// directly or inside PolicyCounts and PhaseTimings, with no padding: the word-by-word test below
// relies on it.
static_assert(std::is_standard_layout_v<Tally>);
constexpr std::size_t kCountBytes = offsetof(Tally, dependent_rows);
static_assert(kCountBytes % 8 == 0);
static_assert(kCountBytes + sizeof(std::vector<DependentCount>) == sizeof(Tally),
              "dependent_rows must stay Tally's last field");
constexpr std::size_t kTallyWords = kCountBytes / 8;

// A Tally's counts as 8-byte words (equal words: equal fields, bit for bit).
std::array<std::uint64_t, kTallyWords> words(const Tally& tally) {
  std::array<std::uint64_t, kTallyWords> out{};
  std::memcpy(out.data(), static_cast<const void*>(&tally), kCountBytes);
  return out;
}

Tally from_words(const std::array<std::uint64_t, kTallyWords>& in) {
  Tally tally;
  std::memcpy(static_cast<void*>(&tally), in.data(), kCountBytes);
  return tally;
}

// Every field a value of its own: field k (counting from 1) is k * scale, and k.5 * scale for
// the times.
Tally numbered(std::int64_t scale) {
  const auto time = [scale](double k) { return k * static_cast<double>(scale); };
  Tally t;
  t.candidates = 1 * scale;
  t.deleted = 2 * scale;
  t.failed = 3 * scale;
  t.skipped = 4 * scale;
  t.no_longer_matching = 5 * scale;
  t.batches = 6 * scale;
  t.batch_retries = 7 * scale;
  t.deleted_by_policy = {8 * scale, 9 * scale, 10 * scale};
  t.replication_pauses = 11 * scale;
  t.throttle_ms = time(12.5);
  t.phases = {time(13.5), time(14.5), time(15.5), time(16.5), time(17.5)};
  return t;
}

TEST(TallyTest, AddsEveryNamedField) {
  Tally sum = numbered(1);
  sum += numbered(100);
  EXPECT_EQ(sum.candidates, 101);
  EXPECT_EQ(sum.deleted, 202);
  EXPECT_EQ(sum.failed, 303);
  EXPECT_EQ(sum.skipped, 404);
  EXPECT_EQ(sum.no_longer_matching, 505);
  EXPECT_EQ(sum.batches, 606);
  EXPECT_EQ(sum.batch_retries, 707);
  EXPECT_EQ(sum.deleted_by_policy.email, 808);
  EXPECT_EQ(sum.deleted_by_policy.phone, 909);
  EXPECT_EQ(sum.deleted_by_policy.expired, 1010);
  EXPECT_EQ(sum.replication_pauses, 1111);
  EXPECT_DOUBLE_EQ(sum.throttle_ms, 1262.5);
  EXPECT_DOUBLE_EQ(sum.phases.find_ms, 1363.5);
  EXPECT_DOUBLE_EQ(sum.phases.delete_ms, 1464.5);
  EXPECT_DOUBLE_EQ(sum.phases.commit_ms, 1565.5);
  EXPECT_DOUBLE_EQ(sum.phases.archive_ms, 1666.5);
  EXPECT_DOUBLE_EQ(sum.phases.wait_ms, 1767.5);
  // numbered() gives every field a value: a field added to Tally must be added there (and
  // here) too, or this count tells.
  EXPECT_EQ(kTallyWords, 17u) << "Tally has a new field: give it a value in numbered() and "
                                 "check its sum above";
}

// Independent of the field names: word i of a is i + 1 and of b is 1000 * (i + 1), so a field
// operator+= forgets keeps a's value. For a double field these bit patterns are subnormal
// numbers, whose sum is exact and is the sum of the patterns (while it stays subnormal).
TEST(TallyTest, AddsEveryWordOfTheStructure) {
  std::array<std::uint64_t, kTallyWords> a_words{};
  std::array<std::uint64_t, kTallyWords> b_words{};
  for (std::size_t i = 0; i < kTallyWords; ++i) {
    a_words[i] = i + 1;
    b_words[i] = 1000 * (i + 1);
  }
  auto a = from_words(a_words);
  a += from_words(b_words);
  const auto sum = words(a);
  for (std::size_t i = 0; i < kTallyWords; ++i) {
    EXPECT_EQ(sum[i], 1001 * (i + 1)) << "word " << i << " of Tally is not added by operator+=";
  }
}

TEST(TallyTest, ACycleReportAndTheServiceTotalsAddAsTallies) {
  CycleReport report;
  static_cast<Tally&>(report) = numbered(1);
  report.cycle_id = "c1";
  report.archived = 99;  // not a Tally field: a cycle's own
  ServiceStatus status;
  status.totals += report;
  status.totals += report;
  EXPECT_EQ(status.totals.deleted, 4);
  EXPECT_EQ(status.totals.deleted_by_policy.expired, 20);
  EXPECT_DOUBLE_EQ(status.totals.phases.wait_ms, 35.0);
}

TEST(TallyTest, ABatchCountsItsRowsOnce) {
  store::BatchResult batch;
  batch.matched = 10;
  batch.deleted = 6;
  batch.skipped = 1;
  batch.no_longer_matching = 1;
  batch.failures.resize(2);
  batch.deleted_by_policy = {4, 1, 1};
  batch.timings = {1, 2, 3, 4, 5};
  const Tally expected{.candidates = 10,
                       .deleted = 6,
                       .failed = 2,
                       .skipped = 1,
                       .no_longer_matching = 1,
                       .batches = 1,
                       .deleted_by_policy = {4, 1, 1},
                       .phases = {1, 2, 3, 4, 5},
                       .dependent_rows = {}};
  // No retries, pauses or throttling: those are the lane's, not the batch's.
  EXPECT_EQ(words(engine::batch_tally(batch)), words(expected));
  EXPECT_TRUE(engine::batch_tally(batch).dependent_rows.empty());
  batch.dependent_rows = {{"public.otp", "cascade", 7}};
  const auto with_dependents = engine::batch_tally(batch);
  ASSERT_EQ(with_dependents.dependent_rows.size(), 1u);
  EXPECT_EQ(with_dependents.dependent_rows[0].rows, 7);
}

// Per table and action: the same pair adds up, a new pair is appended in order of appearance.
TEST(TallyTest, MergesDependentRowsByTableAndAction) {
  Tally a;
  a.dependent_rows = {{"public.otp", "cascade", 3}, {"public.audit", "set null", 2}};
  Tally b;
  b.dependent_rows = {
      {"public.audit", "set null", 5}, {"public.otp", "set null", 1}, {"public.otp", "cascade", 4}};
  a += b;
  ASSERT_EQ(a.dependent_rows.size(), 3u);
  EXPECT_EQ(a.dependent_rows[0].table, "public.otp");
  EXPECT_EQ(a.dependent_rows[0].action, "cascade");
  EXPECT_EQ(a.dependent_rows[0].rows, 7);
  EXPECT_EQ(a.dependent_rows[1].table, "public.audit");
  EXPECT_EQ(a.dependent_rows[1].rows, 7);
  EXPECT_EQ(a.dependent_rows[2].table, "public.otp");
  EXPECT_EQ(a.dependent_rows[2].action, "set null");
  EXPECT_EQ(a.dependent_rows[2].rows, 1);
  a += Tally{};
  EXPECT_EQ(a.dependent_rows.size(), 3u);
}

}  // namespace
}  // namespace batch_cleanup
