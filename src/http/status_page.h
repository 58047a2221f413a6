// The HTML status page served at GET /: per job (one section each, for {"jobs": [...]} or a
// single status), the target (backend, redacted database, tables), version, interval, policies,
// state, next run and totals, a chart of the last cycles (inline SVG drawn by a small script:
// rows deleted per cycle, failed cycles as full-height red bars whose title is the error, a
// legend), the rows the last cycle could not delete (key, SQLSTATE, reason), and a table of the
// last cycles. Self-contained: no external scripts, styles or fonts.
#pragma once

#include <string>

namespace batch_cleanup::http {

// The page, with `status_json` (ServiceStatus::to_json(), or {"jobs": [...]}) embedded so the first
// paint needs no request; the script then refreshes from /status every `refresh_ms` milliseconds.
std::string render_status_page(const std::string& status_json, int refresh_ms = 5000);

}  // namespace batch_cleanup::http
