// A spdlog formatter writing one JSON object per line, for log pipelines:
//   {"ts":"2026-11-29T16:00:00.123Z","level":"info","msg":"...","cycle_id":"3f9c1a0b7d21",
//    "deleted":12,...}
// ts is UTC with milliseconds; level is trace, debug, info, warning, error or critical;
// job names the job on the lines of a named job (not on the implicit job "default"'s);
// cycle_id is present while a cycle runs on the logging thread; counts (candidates, deleted,
// failed, skipped, no_longer_matching, batches, duration_ms) appear on the lines that report
// them (see log_context.h). Field names are fixed.
#pragma once

#include <spdlog/formatter.h>

#include <memory>

namespace batch_cleanup::logging {

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

}  // namespace batch_cleanup::logging
