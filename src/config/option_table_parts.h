// The two halves of option_table() (option_spec.h), each in its own file.
#pragma once

#include <vector>

#include "config/option_spec.h"

namespace batch_cleanup::config {

// The process-wide options (option_table_process.cc), in --help order.
std::vector<OptionSpec> process_options();

// The options of a job (option_table_job.cc), in --help order.
std::vector<OptionSpec> job_options();

}  // namespace batch_cleanup::config
