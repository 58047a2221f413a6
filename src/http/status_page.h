// The HTML status page served at GET /: current state, a chart of rows deleted per cycle
// (inline SVG, drawn by a small script), and a table of the last cycles; with several jobs
// ({"jobs": [...]}), also a table of the jobs, and the cycles of all of them. Self-contained: no
// external scripts, styles or fonts.
#pragma once

#include <string>

namespace batch_cleanup::http {

// The page, with `status_json` (ServiceStatus::to_json(), or {"jobs": [...]}) embedded so the first
// paint needs no request; the script then refreshes from /status every `refresh_ms` milliseconds.
std::string render_status_page(const std::string& status_json, int refresh_ms = 5000);

}  // namespace batch_cleanup::http
