// The --normalize-email value of a normalization, written once for the preflight's messages and
// the status page's job description.
#pragma once

#include "batch_cleanup/config.h"

namespace batch_cleanup::config {

// "none", "lower", "lower-trim" or "collation": the --normalize-email value that sets
// `normalization`.
const char* normalization_flag(EmailNormalization normalization);

}  // namespace batch_cleanup::config
