// The JSON objects of the public report types. CycleReport::to_json(), RunRecord::to_json() and
// ServiceStatus::to_json() print these; internal callers that add fields (a job's name, a
// target) build on the objects instead of parsing the printed text back.
#pragma once

#include <nlohmann/json.hpp>

#include "batch_cleanup/history.h"
#include "batch_cleanup/report.h"
#include "batch_cleanup/service.h"

namespace batch_cleanup::engine {

// The --output json report: stable field names (README "The report").
nlohmann::json report_json(const CycleReport& report);

// A history record: job, cycle_id, started_at, finished_at, host, mode, counts, outcome, error.
nlohmann::json run_record_json(const RunRecord& run);

// A service's status, its last report and recent cycles included (README "HTTP endpoints").
nlohmann::json status_json(const ServiceStatus& status);

}  // namespace batch_cleanup::engine
