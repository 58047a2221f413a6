// What one committed batch adds to its cycle's Tally. Internal to src/engine.
#pragma once

#include "batch_cleanup/report.h"
#include "store/batch_types.h"

namespace batch_cleanup::engine {

inline Tally batch_tally(const store::BatchResult& result) {
  Tally tally;
  tally.batches = 1;
  tally.candidates = result.matched;
  tally.deleted = result.deleted;
  tally.deleted_by_policy = result.deleted_by_policy;
  tally.skipped = result.skipped;
  tally.no_longer_matching = result.no_longer_matching;
  tally.failed = static_cast<std::int64_t>(result.failures.size());
  tally.phases = result.timings;
  tally.dependent_rows = result.dependent_rows;
  return tally;
}

}  // namespace batch_cleanup::engine
