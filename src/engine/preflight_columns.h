// The preflight's checks of the expiry column (--expires-column) and of the columns the --where
// conditions name, against the catalog's facts. Used by engine/preflight.cc.
#pragma once

#include "batch_cleanup/config.h"
#include "store/facts.h"

namespace batch_cleanup::engine {

// Throws ConfigError (exit 2) when the expiry column is missing or holds no times, or when a
// --where condition names a column the pending table lacks, compares a time column with a
// literal, or compares a column that holds no times with now().
void check_expiry_and_conditions(const CleanupConfig& config, const store::PreflightFacts& facts);

}  // namespace batch_cleanup::engine
