// `batch_cleanup explain`: prints the query plans of the batch statements (nothing executed).
#pragma once

#include "batch_cleanup/config.h"

namespace batch_cleanup::cli {

// Connects, runs the preflight, and prints the plans on stdout. Throws like a cycle would.
int run_explain(const CleanupConfig& config);

}  // namespace batch_cleanup::cli
