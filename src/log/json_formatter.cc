#include "log/json_formatter.h"

#include <nlohmann/json.hpp>
#include <string>

#include "log/log_context.h"
#include "util/time_format.h"

namespace batch_cleanup::logging {
namespace {

const char* level_name(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warning";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}

}  // namespace

void JsonFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  nlohmann::ordered_json line = {
      {"ts", util::iso8601_utc(
                 std::chrono::time_point_cast<std::chrono::system_clock::duration>(msg.time))},
      {"level", level_name(msg.level)},
      {"msg", std::string(msg.payload.data(), msg.payload.size())},
  };
  const auto& context = current_log_context();
  if (const auto& job = shown_job(context); !job.empty()) line["job"] = job;
  if (!context.cycle_id.empty()) line["cycle_id"] = context.cycle_id;
  for (const auto& [name, value] : context.counts) line[name] = value;
  // Invalid UTF-8 (e.g. bytes from a database message) is replaced, never thrown on.
  const std::string text =
      line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  dest.append(text.data(), text.data() + text.size());
  dest.push_back('\n');
}

std::unique_ptr<spdlog::formatter> JsonFormatter::clone() const {
  return std::make_unique<JsonFormatter>();
}

}  // namespace batch_cleanup::logging
