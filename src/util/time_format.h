// Small time helpers shared by reports and status.
#pragma once

#include <chrono>
#include <string>

namespace batch_cleanup::util {

// 2026-11-29T16:04:05.123Z
std::string iso8601_utc(std::chrono::system_clock::time_point when);

// 12 random hex characters, for cycle ids.
std::string random_id();

}  // namespace batch_cleanup::util
