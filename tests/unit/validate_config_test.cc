// validate_config() on configurations built in C++ (the library's path): every range and
// enumeration the command line's parser checks is refused here too, naming the option.
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <functional>
#include <limits>

#include "batch_cleanup/config.h"
#include "batch_cleanup/errors.h"
#include "config/options.h"

namespace batch_cleanup {
namespace {

struct BadValue {
  std::string option;  // as the message must name it: "--workers"
  std::string what;    // the case, for failure messages
  std::function<void(CleanupConfig&)> set;
};

const std::vector<BadValue>& bad_values() {
  static const std::vector<BadValue> all = {
      {"--workers", "0", [](CleanupConfig& c) { c.workers = 0; }},
      {"--workers", "-1", [](CleanupConfig& c) { c.workers = -1; }},
      {"--workers", "65", [](CleanupConfig& c) { c.workers = 65; }},
      {"--batch-size", "0", [](CleanupConfig& c) { c.batch_size = 0; }},
      {"--batch-size", "-5", [](CleanupConfig& c) { c.batch_size = -5; }},
      {"--batch-size", "1000001", [](CleanupConfig& c) { c.batch_size = 1'000'001; }},
      {"--retries", "-1", [](CleanupConfig& c) { c.retries = -1; }},
      {"--retries", "21", [](CleanupConfig& c) { c.retries = 21; }},
      {"--sample-size", "-1", [](CleanupConfig& c) { c.sample_size = -1; }},
      {"--sample-size", "1001", [](CleanupConfig& c) { c.sample_size = 1001; }},
      {"--sqlite-cache-mb", "-1", [](CleanupConfig& c) { c.sqlite_cache_mb = -1; }},
      {"--sqlite-cache-mb", "4097", [](CleanupConfig& c) { c.sqlite_cache_mb = 4097; }},
      {"--max-rate", "-5", [](CleanupConfig& c) { c.max_rate = -5; }},
      {"--max-rate", "2e9", [](CleanupConfig& c) { c.max_rate = 2e9; }},
      {"--max-rate", "nan",
       [](CleanupConfig& c) { c.max_rate = std::numeric_limits<double>::quiet_NaN(); }},
      {"--max-replication-lag-bytes", "-1",
       [](CleanupConfig& c) { c.max_replication_lag_bytes = -1; }},
      {"--max-replication-lag-bytes", "2^50+1",
       [](CleanupConfig& c) { c.max_replication_lag_bytes = (std::int64_t{1} << 50) + 1; }},
      {"--max-replication-lag", "-1ms",
       [](CleanupConfig& c) { c.max_replication_lag = std::chrono::milliseconds(-1); }},
      {"--sleep", "-1ms",
       [](CleanupConfig& c) { c.sleep_between_batches = std::chrono::milliseconds(-1); }},
      {"--expire-after", "-1h",
       [](CleanupConfig& c) {
         c.expire_after = -std::chrono::milliseconds(std::chrono::hours(1));
       }},
      {"--expire-after", "500ms",
       [](CleanupConfig& c) { c.expire_after = std::chrono::milliseconds(500); }},
      {"--min-age", "-1s",
       [](CleanupConfig& c) { c.min_age = -std::chrono::milliseconds(std::chrono::seconds(1)); }},
      {"--min-age", "999ms", [](CleanupConfig& c) { c.min_age = std::chrono::milliseconds(999); }},
      {"--archive-retention", "-1s",
       [](CleanupConfig& c) {
         c.archive_table = "archive";
         c.archive_retention = -std::chrono::milliseconds(std::chrono::seconds(1));
       }},
      {"--archive-retention", "100ms",
       [](CleanupConfig& c) {
         c.archive_table = "archive";
         c.archive_retention = std::chrono::milliseconds(100);
       }},
      {"--normalize-email", "enum 7",
       [](CleanupConfig& c) { c.normalize_email = static_cast<EmailNormalization>(7); }},
      {"--batch-strategy", "enum 9",
       [](CleanupConfig& c) { c.batch_strategy = static_cast<BatchStrategy>(9); }},
      {"--lock-timeout", "0", [](CleanupConfig& c) { c.lock_timeout = {}; }},
      {"--statement-timeout", "0", [](CleanupConfig& c) { c.statement_timeout = {}; }},
      {"--batch-time", "3ms",
       [](CleanupConfig& c) { c.batch_time = std::chrono::milliseconds(3); }},
      {"--max-fraction", "1.5", [](CleanupConfig& c) { c.max_fraction = 1.5; }},
      {"--max-fraction", "nan",
       [](CleanupConfig& c) { c.max_fraction = std::numeric_limits<double>::quiet_NaN(); }},
      {"--lease-ttl", "1s", [](CleanupConfig& c) { c.lease_ttl = std::chrono::seconds(1); }},
      {"--created-time-zone", "bad zone",
       [](CleanupConfig& c) {
         c.min_age = std::chrono::minutes(15);
         c.created_time_zone = "Europe Paris";
       }},
  };
  return all;
}

TEST(ValidateConfigTest, TheDefaultsAreValid) { EXPECT_NO_THROW(validate_config(CleanupConfig{})); }

TEST(ValidateConfigTest, EveryBadValueIsRefusedNamingItsOption) {
  for (const auto& bad : bad_values()) {
    CleanupConfig config;
    bad.set(config);
    try {
      validate_config(config);
      ADD_FAILURE() << bad.option << " " << bad.what << " was accepted";
    } catch (const ConfigError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(bad.option), std::string::npos)
          << bad.option << " " << bad.what << ": " << message;
      EXPECT_EQ(message.rfind("invalid ", 0), 0u) << message;
    }
  }
}

TEST(ValidateConfigTest, TheBoundsThemselvesAreAccepted) {
  const std::vector<std::function<void(CleanupConfig&)>> good = {
      [](CleanupConfig& c) { c.workers = 1; },
      [](CleanupConfig& c) { c.workers = 64; },
      [](CleanupConfig& c) { c.batch_size = 1; },
      [](CleanupConfig& c) { c.batch_size = 1'000'000; },
      [](CleanupConfig& c) { c.retries = 0; },
      [](CleanupConfig& c) { c.retries = 20; },
      [](CleanupConfig& c) { c.sample_size = 0; },
      [](CleanupConfig& c) { c.sample_size = 1000; },
      [](CleanupConfig& c) { c.sqlite_cache_mb = 4096; },
      [](CleanupConfig& c) { c.max_rate = 1e9; },
      [](CleanupConfig& c) { c.max_replication_lag_bytes = std::int64_t{1} << 50; },
      [](CleanupConfig& c) { c.min_age = std::chrono::seconds(1); },
      [](CleanupConfig& c) { c.expire_after = std::chrono::seconds(1); },
      [](CleanupConfig& c) {
        c.archive_table = "archive";
        c.archive_retention = std::chrono::seconds(1);
      },
      [](CleanupConfig& c) { c.batch_strategy = BatchStrategy::kEmail; },
      [](CleanupConfig& c) { c.normalize_email = EmailNormalization::kLowerTrim; },
  };
  for (std::size_t i = 0; i < good.size(); ++i) {
    CleanupConfig config;
    good[i](config);
    EXPECT_NO_THROW(validate_config(config)) << "case " << i;
  }
}

// The command line and validate_config() draw the same lines: a value the flag refuses is
// refused by validate_config() too, and the flag's extreme accepted values pass both.
TEST(ValidateConfigTest, TheFlagsAndTheLibraryAgreeOnTheBounds) {
  struct Bound {
    std::string flag;
    std::string inside;
    std::string outside;
  };
  const std::vector<Bound> bounds = {
      {"--workers", "64", "65"},         {"--workers", "1", "0"},
      {"--batch-size", "1000000", "0"},  {"--retries", "20", "21"},
      {"--sample-size", "1000", "1001"}, {"--sqlite-cache-mb", "4096", "4097"},
      {"--max-rate", "1e9", "-1"},       {"--max-replication-lag-bytes", "0", "-1"},
  };
  for (const auto& bound : bounds) {
    for (const bool inside : {true, false}) {
      CLI::App app{"test"};
      CleanupConfig config;
      config::OptionTexts texts;
      config::declare_options(app, config, texts, nullptr);
      // Without the flag's own check: the value stored the way CLI11 converts it, as a library
      // user could set it.
      app.get_option(bound.flag)->get_validator(0)->active(false);
      std::vector<std::string> args = {"test", bound.flag, inside ? bound.inside : bound.outside};
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      bool cli_refused = false;
      CLI::App checked{"test"};
      CleanupConfig ignored;
      config::OptionTexts ignored_texts;
      config::declare_options(checked, ignored, ignored_texts, nullptr);
      try {
        checked.parse(static_cast<int>(argv.size()), argv.data());
      } catch (const CLI::ParseError&) {
        cli_refused = true;
      }
      EXPECT_EQ(cli_refused, !inside) << bound.flag << " " << args[2];
      bool library_refused = false;
      try {
        app.parse(static_cast<int>(argv.size()), argv.data());
        config::finish_options(texts, config);
      } catch (const CLI::ParseError& e) {
        ADD_FAILURE() << bound.flag << " " << args[2] << ": conversion failed: " << e.what();
      } catch (const ConfigError& e) {
        library_refused = true;
        EXPECT_NE(std::string(e.what()).find(bound.flag), std::string::npos) << e.what();
      }
      EXPECT_EQ(library_refused, !inside) << bound.flag << " " << args[2];
    }
  }
}

}  // namespace
}  // namespace batch_cleanup
