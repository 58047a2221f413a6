#include "config/duration.h"

#include <gtest/gtest.h>

#include "batch_cleanup/errors.h"

namespace batch_cleanup::config {
namespace {

using std::chrono::milliseconds;

TEST(DurationTest, BareNumbersUseTheGivenUnit) {
  EXPECT_EQ(parse_duration("1", BareUnit::kHours), milliseconds(3'600'000));
  EXPECT_EQ(parse_duration("0.5", BareUnit::kHours), milliseconds(1'800'000));
  EXPECT_EQ(parse_duration("2", BareUnit::kHours), milliseconds(7'200'000));
  EXPECT_EQ(parse_duration("250", BareUnit::kMilliseconds), milliseconds(250));
  EXPECT_EQ(parse_duration("3", BareUnit::kSeconds), milliseconds(3000));
}

TEST(DurationTest, Units) {
  EXPECT_EQ(parse_duration("90s", BareUnit::kHours), milliseconds(90'000));
  EXPECT_EQ(parse_duration("15m", BareUnit::kHours), milliseconds(900'000));
  EXPECT_EQ(parse_duration("2h", BareUnit::kHours), milliseconds(7'200'000));
  EXPECT_EQ(parse_duration("7d", BareUnit::kHours), milliseconds(604'800'000));
  EXPECT_EQ(parse_duration("250ms", BareUnit::kHours), milliseconds(250));
  EXPECT_EQ(parse_duration("1h30m", BareUnit::kHours), milliseconds(5'400'000));
  EXPECT_EQ(parse_duration(" 1.5s ", BareUnit::kHours), milliseconds(1500));
}

TEST(DurationTest, RejectsMalformedInput) {
  for (const char* bad : {"", " ", "-1", "-5m", "abc", "5x", "1.2.3", "m", "5 m", "1h2", "1e3",
                          "99999999999999999999h", "1..0s"}) {
    EXPECT_THROW(parse_duration(bad, BareUnit::kHours), ConfigError) << "'" << bad << "'";
  }
}

TEST(DurationTest, ErrorMessageNamesTheInputAndExamples) {
  try {
    parse_duration("5x", BareUnit::kHours);
    FAIL() << "no exception";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(),
                 "invalid duration '5x': unknown unit 'x' (examples: 90s, 15m, 2h, 7d, 250ms, or a "
                 "bare number)");
  }
}

TEST(DurationTest, Formats) {
  EXPECT_EQ(format_duration(milliseconds(0)), "0s");
  EXPECT_EQ(format_duration(milliseconds(250)), "250ms");
  EXPECT_EQ(format_duration(milliseconds(5'400'000)), "1h 30m");
  EXPECT_EQ(format_duration(milliseconds(90'500)), "1m 30s 500ms");
}

}  // namespace
}  // namespace batch_cleanup::config
