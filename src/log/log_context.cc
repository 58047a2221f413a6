#include "log/log_context.h"

namespace batch_cleanup::logging {
namespace {

thread_local LogContext t_context;

}  // namespace

const LogContext& current_log_context() { return t_context; }

const std::string& shown_job(const LogContext& context) {
  static const std::string none;
  return context.job == "default" ? none : context.job;
}

JobLogScope::JobLogScope(std::string job)
    : previous_(std::exchange(t_context.job, std::move(job))) {}

JobLogScope::~JobLogScope() { t_context.job = std::move(previous_); }

CycleLogScope::CycleLogScope(std::string cycle_id)
    : previous_(std::exchange(t_context.cycle_id, std::move(cycle_id))) {}

CycleLogScope::~CycleLogScope() { t_context.cycle_id = std::move(previous_); }

CountsLogScope::CountsLogScope(std::vector<std::pair<std::string, std::int64_t>> counts)
    : previous_(std::exchange(t_context.counts, std::move(counts))) {}

CountsLogScope::~CountsLogScope() { t_context.counts = std::move(previous_); }

}  // namespace batch_cleanup::logging
