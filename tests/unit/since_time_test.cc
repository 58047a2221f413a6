#include "config/since_time.h"

#include <gtest/gtest.h>

#include "batch_cleanup/errors.h"

namespace batch_cleanup::config {
namespace {

const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));

TEST(SinceTimeTest, Timestamps) {
  EXPECT_EQ(parse_since("2026-11-29", kNow), "2026-11-29T00:00:00Z");
  EXPECT_EQ(parse_since("2026-11-29T16:05", kNow), "2026-11-29T16:05:00Z");
  EXPECT_EQ(parse_since("2026-11-29 16:05:07.25+02:00", kNow), "2026-11-29T16:05:07.25+02:00");
  EXPECT_EQ(parse_since("2026-11-29T16:05:07Z", kNow), "2026-11-29T16:05:07Z");
}

TEST(SinceTimeTest, DurationsAgo) {
  EXPECT_EQ(parse_since("2h", kNow), "2027-01-15T06:00:00.000Z");
  EXPECT_EQ(parse_since("1d", kNow), "2027-01-14T08:00:00.000Z");
}

TEST(SinceTimeTest, Rejects) {
  for (const char* bad : {"", "yesterday", "2026-13-01", "2026-11-29T25:00", "2026-11-29T10:61",
                          "2026-11-29'; DROP TABLE x; --", "-2h", "2026/11/29",
                          "22444433" /* hours: found by the fuzzer */}) {
    EXPECT_THROW(parse_since(bad, kNow), ConfigError) << bad;
  }
  try {
    parse_since("yesterday", kNow);
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(),
                 "invalid --since 'yesterday': use an ISO-8601 time (2026-11-29T16:00:00Z) or a "
                 "duration ago (2h, 7d)");
  }
}

}  // namespace
}  // namespace batch_cleanup::config
