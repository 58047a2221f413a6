#include "store/nibble_loop.h"

#include <algorithm>
#include <utility>

#include "batch_cleanup/errors.h"
#include "store/commit_observer.h"

namespace batch_cleanup::store {
namespace {

// A new attempt at the batch: what an earlier attempt found is dropped, its events and the
// time spent are kept.
void start_over(BatchResult& result) {
  auto events = std::move(result.events);
  const PhaseTimings timings = result.timings;
  result = BatchResult{};
  result.events = std::move(events);
  result.timings = timings;
}

// Ends the batch's transaction (ROLLBACK unless it committed) however the batch ends.
class TransactionScope {
 public:
  explicit TransactionScope(NibbleSteps& steps) : steps_(steps) { steps_.begin_transaction(); }
  ~TransactionScope() { steps_.end_transaction(); }
  TransactionScope(const TransactionScope&) = delete;
  TransactionScope& operator=(const TransactionScope&) = delete;

 private:
  NibbleSteps& steps_;
};

}  // namespace

double ms_since(BatchClock::time_point start) {
  return std::chrono::duration<double, std::milli>(BatchClock::now() - start).count();
}

std::vector<PassSlice> slices_between(const std::vector<std::string>& bounds) {
  std::vector<std::string> distinct;
  for (const auto& bound : bounds) {
    if (distinct.empty() || distinct.back() != bound) distinct.push_back(bound);
  }
  const int made = static_cast<int>(distinct.size()) + 1;
  std::vector<PassSlice> slices;
  slices.reserve(static_cast<std::size_t>(made));
  for (int i = 0; i < made; ++i) {
    slices.push_back({i, made, i > 0 ? distinct[i - 1] : "", i + 1 < made ? distinct[i] : ""});
  }
  return slices;
}

std::int64_t batch_bound(const BatchRequest& request) {
  const std::int64_t target_rows = std::max<std::int64_t>(1, request.target_rows);
  auto bound = static_cast<std::int64_t>(kMaxScanFactor * static_cast<double>(target_rows));
  if (request.max_rows > 0) bound = std::min(bound, request.max_rows);
  return bound;
}

BatchResult NibbleLoop::run_batch(NibbleSteps& steps, const BatchRequest& request) {
  const std::int64_t bound = batch_bound(request);
  BatchResult result;
  BatchAdvance advance;
  {
    auto phase = BatchClock::now();
    TransactionScope transaction(steps);
    steps.begin(request, bound);
    bool rows_in_window = true;
    if (steps.reads_window()) {
      rows_in_window = steps.read_window(result);
      result.timings.find_ms = ms_since(phase);
      phase = BatchClock::now();
    }
    bool fast = false;
    while (rows_in_window) {
      steps.locate();
      start_over(result);
      if (!steps.fast_path()) break;
      steps.savepoint("bc_fast");
      try {
        steps.probe_locks();
        steps.run_fast(result);
        if (result.deleted > bound) {
          const auto overflow = steps.overflow(result.deleted);
          if (overflow == NibbleSteps::Overflow::kShrunk) {
            steps.rollback_to("bc_fast");
            continue;
          }
          if (overflow == NibbleSteps::Overflow::kCareful) {
            // Rows came into the window since it was read: take it the bounded way.
            steps.rollback_to("bc_fast");
            break;
          }
        }
        steps.release("bc_fast");
        fast = true;
      } catch (const DatabaseError& e) {
        if (e.cause() != ErrorCause::kLockTimeout && e.cause() != ErrorCause::kRowRefused) throw;
        // A row was held or refused: the batch is done the careful way.
        start_over(result);
        result.events.push_back({BatchEvent::Kind::kRangeHeldOrRefused, steps.rows_in_view(),
                                 e.code(), steps.describe() + ": " + e.what()});
        steps.rollback_to("bc_fast");
        steps.restore_locks();
      }
      break;
    }
    if (rows_in_window) result.timings.delete_ms = ms_since(phase);  // fast: finds and deletes
    if (rows_in_window && !fast) {
      phase = BatchClock::now();
      const bool shrinkable = steps.shrinkable();
      while (true) {
        // The careful path is bounded the same way: a lock that matched too many rows is
        // rolled back (releasing its locks) and the window shrunk.
        if (shrinkable) steps.savepoint("bc_careful");
        start_over(result);
        steps.lock(result);
        if (shrinkable && result.matched > bound &&
            steps.overflow(result.matched) == NibbleSteps::Overflow::kShrunk) {
          steps.rollback_to("bc_careful");
          steps.locate();
          continue;
        }
        if (shrinkable) steps.release("bc_careful");
        break;
      }
      result.timings.find_ms += ms_since(phase);
      phase = BatchClock::now();
      steps.delete_locked(result);
      result.timings.delete_ms += ms_since(phase);
    }
    phase = BatchClock::now();
    advance = steps.advance();
    steps.before_commit(result);
    try {
      commit_observed(observer_, result.deleted_rows, [&] { steps.commit(); });
    } catch (const DatabaseError& e) {
      if (e.cause() == ErrorCause::kInDoubt) steps.keep_in_doubt(result, advance);
      throw;
    }
    steps.committed(request);
    result.timings.commit_ms = ms_since(phase);
  }
  advance(result);
  return result;
}

}  // namespace batch_cleanup::store
