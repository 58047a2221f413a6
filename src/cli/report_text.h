// Human-readable rendering of a cycle report for --output text.
#pragma once

#include <string>

#include "batch_cleanup/report.h"

namespace batch_cleanup::cli {

std::string render_report_text(const CycleReport& report);

}  // namespace batch_cleanup::cli
