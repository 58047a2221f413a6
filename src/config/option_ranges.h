// The numeric ranges of the options, declared once: the option table (option_spec.h) gives them
// to the flags' CLI11 checks and to the checks of environment and file values, and
// validate_config() (the library's check) reads them too, so a value the command line refuses is
// refused for a configuration built in C++ too.
#pragma once

#include <cstdint>

namespace batch_cleanup::config {

// Whole numbers: lo..hi, both included.
struct IntRange {
  const char* flag;  // as typed, for messages: "--workers"
  std::int64_t lo;
  std::int64_t hi;
};

// Real numbers: lo..hi, both included.
struct RealRange {
  const char* flag;
  double lo;
  double hi;
};

inline constexpr IntRange kUnhealthyAfterRange{"--unhealthy-after", 1, 1000};
inline constexpr IntRange kBatchSizeRange{"--batch-size", 1, 1'000'000};
inline constexpr IntRange kWorkersRange{"--workers", 1, 64};
inline constexpr RealRange kMaxRateRange{"--max-rate", 0.0, 1e9};
inline constexpr IntRange kSqliteCacheMbRange{"--sqlite-cache-mb", 0, 4096};
inline constexpr IntRange kRetriesRange{"--retries", 0, 20};
inline constexpr IntRange kSampleSizeRange{"--sample-size", 0, 1000};
inline constexpr IntRange kMaxReplicationLagBytesRange{"--max-replication-lag-bytes", 0,
                                                       std::int64_t{1} << 50};

}  // namespace batch_cleanup::config
