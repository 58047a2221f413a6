// Structured fields attached to log records of the current thread (read by the log formatters):
// the job and the id of the cycle being run and, for a summary line, its counts.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace batch_cleanup::logging {

struct LogContext {
  std::string job;                                           // empty outside a job
  std::string cycle_id;                                      // empty outside a cycle
  std::vector<std::pair<std::string, std::int64_t>> counts;  // e.g. {"deleted", 12}
};

// The calling thread's context (thread-local).
const LogContext& current_log_context();

// The job name to show on a log line: the context's job, or "" for none and for the implicit
// job "default" (whose lines stay as they were before jobs existed).
const std::string& shown_job(const LogContext& context);

// Sets the thread's job name for its lifetime; restores the previous one after.
class JobLogScope {
 public:
  explicit JobLogScope(std::string job);
  ~JobLogScope();
  JobLogScope(const JobLogScope&) = delete;
  JobLogScope& operator=(const JobLogScope&) = delete;

 private:
  std::string previous_;
};

// Sets the thread's cycle id for its lifetime; restores the previous one after.
class CycleLogScope {
 public:
  explicit CycleLogScope(std::string cycle_id);
  ~CycleLogScope();
  CycleLogScope(const CycleLogScope&) = delete;
  CycleLogScope& operator=(const CycleLogScope&) = delete;

 private:
  std::string previous_;
};

// Attaches counts to the records logged by this thread during its lifetime.
class CountsLogScope {
 public:
  explicit CountsLogScope(std::vector<std::pair<std::string, std::int64_t>> counts);
  ~CountsLogScope();
  CountsLogScope(const CountsLogScope&) = delete;
  CountsLogScope& operator=(const CountsLogScope&) = delete;

 private:
  std::vector<std::pair<std::string, std::int64_t>> previous_;
};

}  // namespace batch_cleanup::logging
