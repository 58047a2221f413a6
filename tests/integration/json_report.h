// Reading the tool's --output json reports in tests.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "integration/process.h"

namespace batch_cleanup::testing {

// Every JSON object printed on stdout, one per line, in order.
inline std::vector<nlohmann::json> json_reports(const ProcessResult& result) {
  std::vector<nlohmann::json> out;
  std::size_t start = 0;
  while (start < result.out.size()) {
    auto end = result.out.find('\n', start);
    if (end == std::string::npos) end = result.out.size();
    const std::string line = result.out.substr(start, end - start);
    if (!line.empty() && line[0] == '{') out.push_back(nlohmann::json::parse(line));
    start = end + 1;
  }
  return out;
}

// The last JSON object printed on stdout (an empty object when there is none).
inline nlohmann::json last_json_report(const ProcessResult& result) {
  const auto all = json_reports(result);
  return all.empty() ? nlohmann::json::object() : all.back();
}

}  // namespace batch_cleanup::testing
