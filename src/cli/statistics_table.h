// `--statistics`: where a cycle's time went, as a table (pt-archiver style).
#pragma once

#include <string>

#include "batch_cleanup/report.h"

namespace batch_cleanup::cli {

// A table with one line per phase (find candidates, delete, commit, archive, waiting on locks
// or throttle, other) giving the calls, total ms, share of the cycle and ms per batch.
std::string render_statistics(const CycleReport& report);

}  // namespace batch_cleanup::cli
