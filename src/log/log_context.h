// Structured fields attached to log records of the current thread (read by the JSON log
// formatter): the id of the cycle being run and, for a summary line, its counts.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace batch_cleanup::logging {

struct LogContext {
  std::string cycle_id;                                      // empty outside a cycle
  std::vector<std::pair<std::string, std::int64_t>> counts;  // e.g. {"deleted", 12}
};

// The calling thread's context (thread-local).
const LogContext& current_log_context();

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
