#include "log/logger.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <optional>
#include <vector>

#include "batch_cleanup/errors.h"
#include "log/json_formatter.h"
#include "log/log_context.h"
#include "log/mask.h"
#include "util/private_file.h"

namespace batch_cleanup::logging {
namespace {

constexpr const char* kLoggerName = "batch_cleanup";
// %* is the job: "[job NAME] " on the lines of a named job, nothing otherwise.
constexpr const char* kPattern = "%Y-%m-%dT%H:%M:%S.%e%z %^%-7l%$ %*%v";
std::mutex g_logger_mutex;

class JobFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const auto& job = shown_job(current_log_context());
    if (job.empty()) return;
    const std::string text = "[job " + job + "] ";
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JobFlag>();
  }
};

// Every line, whoever wrote it, without the registered secrets and, unless --log-pii, with
// what looks like an address masked (a database's own message may quote one).
class RedactingFormatter final : public spdlog::formatter {
 public:
  explicit RedactingFormatter(std::unique_ptr<spdlog::formatter> inner)
      : inner_(std::move(inner)) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string payload = scrub_registered(std::string(msg.payload.data(), msg.payload.size()));
    if (!show_pii()) payload = mask_emails_in(payload);
    spdlog::details::log_msg copy = msg;
    copy.payload = spdlog::string_view_t(payload.data(), payload.size());
    inner_->format(copy, dest);
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<RedactingFormatter>(inner_->clone());
  }

 private:
  std::unique_ptr<spdlog::formatter> inner_;
};

std::unique_ptr<spdlog::formatter> text_formatter() {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<JobFlag>('*').set_pattern(kPattern);
  return std::make_unique<RedactingFormatter>(std::move(formatter));
}

}  // namespace

std::shared_ptr<spdlog::logger> logger() {
  if (auto existing = spdlog::get(kLoggerName)) return existing;
  std::lock_guard lock(g_logger_mutex);
  if (auto existing = spdlog::get(kLoggerName)) return existing;
  auto created = std::make_shared<spdlog::logger>(
      kLoggerName, std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  created->set_formatter(text_formatter());
  created->set_level(spdlog::level::info);
  spdlog::register_logger(created);
  return created;
}

spdlog::level::level_enum parse_level(const std::string& level) {
  std::string lower = level;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "trace") return spdlog::level::trace;
  if (lower == "debug") return spdlog::level::debug;
  if (lower == "info") return spdlog::level::info;
  if (lower == "warning" || lower == "warn") return spdlog::level::warn;
  if (lower == "error") return spdlog::level::err;
  if (lower == "critical") return spdlog::level::critical;
  throw ConfigError("invalid log level '" + level + "': use trace, debug, info, warning or error");
}

void configure_logging(const std::string& level, const std::string& log_file,
                       const std::string& format) {
  const auto parsed = parse_level(level);
  if (format != "text" && format != "json") {
    throw ConfigError("invalid log format '" + format + "': use text or json");
  }
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  std::optional<std::string> warning;
  if (!log_file.empty()) {
    // Created 0600 before spdlog opens it (spdlog would create it, and its directories, with
    // the umask's mode).
    warning = util::prepare_private_file(log_file, "--log-file", true);
    try {
      sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(log_file, false));
    } catch (const spdlog::spdlog_ex& e) {
      throw ConfigError("cannot open log file '" + log_file + "': " + e.what());
    }
  }
  auto current = logger();
  std::lock_guard lock(g_logger_mutex);
  current->sinks() = sinks;
  if (format == "json") {
    current->set_formatter(std::make_unique<RedactingFormatter>(std::make_unique<JsonFormatter>()));
  } else {
    current->set_formatter(text_formatter());
  }
  current->set_level(parsed);
  current->flush_on(spdlog::level::info);
  if (warning) current->warn("{}", *warning);
}

}  // namespace batch_cleanup::logging
