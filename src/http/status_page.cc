#include "http/status_page.h"

#include <string_view>

namespace batch_cleanup::http {
namespace {

constexpr std::string_view kPage = R"HTML(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>batch_cleanup status</title>
<style>
  body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px 32px;
         color: #1f2933; background: #f7f9fb; }
  h1 { font-size: 22px; margin: 0 0 4px; }
  .sub { color: #616e7c; font-size: 13px; margin-bottom: 18px; }
  .cards { display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 20px; }
  .card { background: #fff; border: 1px solid #d9e2ec; border-radius: 6px; padding: 10px 14px;
          min-width: 130px; }
  .card .label { font-size: 12px; color: #616e7c; text-transform: uppercase; }
  .card .value { font-size: 20px; font-weight: 600; margin-top: 2px; }
  .ok { color: #2f8132; } .bad { color: #c62828; }
  .panel { background: #fff; border: 1px solid #d9e2ec; border-radius: 6px; padding: 12px 16px;
           margin-bottom: 20px; }
  .panel h2 { font-size: 15px; margin: 0 0 8px; }
  svg text { font-size: 11px; fill: #52606d; }
  rect.bar { fill: #3f7fbf; } rect.bar.partial { fill: #e09f3e; } rect.bar.failed { fill: #c62828; }
  table { border-collapse: collapse; width: 100%; font-size: 13px; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e4e7eb; }
  th { color: #616e7c; font-weight: 600; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
</style>
</head>
<body>
<h1>batch_cleanup</h1>
<div class="sub" id="updated"></div>
<div class="cards" id="cards"></div>
<div class="panel" id="jobs-panel" hidden>
  <h2>Jobs</h2>
  <table>
    <thead><tr><th>job</th><th>state</th><th>health</th><th>last success</th><th>next run</th>
      <th class="num">deleted</th><th class="num">failed</th><th class="num">cycles</th>
      <th>last error</th></tr></thead>
    <tbody id="jobs"></tbody>
  </table>
</div>
<div class="panel">
  <h2>Rows deleted per cycle</h2>
  <svg id="chart" width="1100" height="260" role="img" aria-label="rows deleted per cycle"></svg>
</div>
<div class="panel">
  <h2>Last cycles</h2>
  <table>
    <thead><tr><th id="job-column" hidden>job</th><th>cycle</th><th>started (UTC)</th><th>mode</th><th>outcome</th>
      <th class="num">candidates</th><th class="num">deleted</th><th class="num">failed</th>
      <th class="num">skipped</th><th class="num">batches</th><th class="num">ms</th><th>error</th></tr></thead>
    <tbody id="cycles"></tbody>
  </table>
</div>
<script id="initial-status" type="application/json">@STATUS_JSON@</script>
<script>
"use strict";
const SVG = "http://www.w3.org/2000/svg";
function el(tag, attrs, text) {
  const node = tag === "svg" || ["rect", "text", "line", "g", "title"].includes(tag)
      ? document.createElementNS(SVG, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}
function card(label, value, cls) {
  const c = el("div", {class: "card"});
  c.appendChild(el("div", {class: "label"}, label));
  c.appendChild(el("div", {class: "value " + (cls || "")}, value));
  return c;
}
function shortTime(t) { return t ? t.replace("T", " ").slice(0, 19) : ""; }
function isHealthy(s) { return s.consecutive_failures === 0 && !s.halted_on_config_error; }
// Several jobs ({"jobs": [...]}): one combined view for the cards, chart and table.
function combine(s) {
  if (!s.jobs) return s;
  const jobs = s.jobs;
  const sum = k => jobs.reduce((n, j) => n + (j[k] || 0), 0);
  const times = k => jobs.map(j => j[k]).filter(t => t).sort();
  return {
    jobs: jobs,
    running: jobs.some(j => j.running),
    cycle_in_progress: jobs.some(j => j.cycle_in_progress),
    consecutive_failures: jobs.every(isHealthy) ? 0 : 1,
    halted_on_config_error: jobs.some(j => j.halted_on_config_error),
    last_success: times("last_success").pop() || null,
    next_run: times("next_run")[0] || null,
    total_deleted: sum("total_deleted"), total_failed: sum("total_failed"),
    total_skipped: sum("total_skipped"), cycles: sum("cycles"),
    recent_cycles: jobs.flatMap(j => (j.recent_cycles || []).map(c => Object.assign({job: j.job}, c)))
        .sort((a, b) => (a.started_at || "").localeCompare(b.started_at || "")),
  };
}
function renderJobs(s) {
  const panel = document.getElementById("jobs-panel");
  panel.hidden = !s.jobs;
  document.getElementById("job-column").hidden = !s.jobs;
  if (!s.jobs) return;
  const body = document.getElementById("jobs");
  body.replaceChildren();
  for (const j of s.jobs) {
    const tr = el("tr", {class: "job", "data-job": j.job});
    tr.appendChild(el("td", {}, j.job));
    tr.appendChild(el("td", {}, j.cycle_in_progress ? "cycle running" : (j.running ? "waiting" : "stopped")));
    tr.appendChild(el("td", {class: isHealthy(j) ? "ok" : "bad"}, isHealthy(j) ? "healthy" : "failing"));
    tr.appendChild(el("td", {}, shortTime(j.last_success) || "never"));
    tr.appendChild(el("td", {}, shortTime(j.next_run) || "-"));
    tr.appendChild(el("td", {class: "num"}, String(j.total_deleted)));
    tr.appendChild(el("td", {class: "num"}, String(j.total_failed)));
    tr.appendChild(el("td", {class: "num"}, String(j.cycles)));
    tr.appendChild(el("td", {}, j.last_error || ""));
    body.appendChild(tr);
  }
}
function renderCards(s) {
  const cards = document.getElementById("cards");
  cards.replaceChildren();
  const healthy = isHealthy(s);
  cards.appendChild(card("state", s.cycle_in_progress ? "cycle running" : (s.running ? "waiting" : "stopped")));
  cards.appendChild(card("health", healthy ? "healthy" : "failing", healthy ? "ok" : "bad"));
  cards.appendChild(card("last success", s.last_success ? s.last_success.replace("T", " ").slice(0, 19) : "never"));
  cards.appendChild(card("next run", s.next_run ? s.next_run.replace("T", " ").slice(0, 19) : "-"));
  cards.appendChild(card("deleted (total)", String(s.total_deleted)));
  cards.appendChild(card("failed (total)", String(s.total_failed), s.total_failed > 0 ? "bad" : ""));
  cards.appendChild(card("skipped (total)", String(s.total_skipped)));
  cards.appendChild(card("cycles", String(s.cycles)));
}
function renderChart(cycles) {
  const svg = document.getElementById("chart");
  svg.replaceChildren();
  const W = 1100, H = 260, left = 60, right = 10, top = 10, bottom = 30;
  const plotW = W - left - right, plotH = H - top - bottom;
  const max = Math.max(1, ...cycles.map(c => c.deleted));
  for (let i = 0; i <= 4; ++i) {
    const y = top + plotH - plotH * i / 4;
    svg.appendChild(el("line", {x1: left, x2: W - right, y1: y, y2: y, stroke: "#e4e7eb"}));
    svg.appendChild(el("text", {x: left - 6, y: y + 4, "text-anchor": "end"}, String(Math.round(max * i / 4))));
  }
  if (cycles.length === 0) {
    svg.appendChild(el("text", {x: left + 10, y: top + plotH / 2}, "no cycles yet"));
    return;
  }
  const step = plotW / cycles.length;
  const barW = Math.max(2, Math.min(60, step * 0.7));
  cycles.forEach((c, i) => {
    const h = plotH * c.deleted / max;
    const x = left + i * step + (step - barW) / 2;
    const bar = el("rect", {class: "bar " + c.outcome, x: x, y: top + plotH - h, width: barW,
                            height: Math.max(h, 1), "data-deleted": c.deleted, "data-cycle": c.cycle_id});
    bar.appendChild(el("title", {}, (c.job ? c.job + " " : "") + c.cycle_id + ": " + c.deleted + " deleted (" + c.outcome + ")"));
    svg.appendChild(bar);
    if (cycles.length <= 20 || i % Math.ceil(cycles.length / 20) === 0) {
      svg.appendChild(el("text", {x: x + barW / 2, y: H - 10, "text-anchor": "middle"},
                         (c.started_at || "").slice(11, 19)));
    }
  });
  svg.appendChild(el("line", {x1: left, x2: W - right, y1: top + plotH, y2: top + plotH, stroke: "#9aa5b1"}));
}
function renderTable(cycles, withJobs) {
  const body = document.getElementById("cycles");
  body.replaceChildren();
  for (const c of cycles.slice().reverse()) {
    const tr = el("tr", {class: "cycle"});
    if (withJobs) tr.appendChild(el("td", {}, c.job || ""));
    tr.appendChild(el("td", {}, c.cycle_id || "-"));
    tr.appendChild(el("td", {}, (c.started_at || "").replace("T", " ").slice(0, 19)));
    tr.appendChild(el("td", {}, c.mode));
    tr.appendChild(el("td", {class: c.outcome === "failed" || c.outcome === "partial" ? "bad" : "ok"}, c.outcome));
    for (const k of ["candidates", "deleted", "failed", "skipped", "batches", "duration_ms"]) {
      tr.appendChild(el("td", {class: "num"}, String(c[k])));
    }
    tr.appendChild(el("td", {}, c.error || ""));
    body.appendChild(tr);
  }
}
function render(status) {
  const s = combine(status);
  const cycles = (s.recent_cycles || []).filter(c => c.outcome !== "dry_run");
  renderJobs(s);
  renderCards(s);
  renderChart(cycles);
  renderTable(cycles, !!s.jobs);
  document.getElementById("updated").textContent =
      "updated " + new Date().toISOString().replace("T", " ").slice(0, 19) + " UTC; " +
      cycles.length + " cycle(s) shown";
  document.body.setAttribute("data-rendered-cycles", String(cycles.length));
}
render(JSON.parse(document.getElementById("initial-status").textContent));
setInterval(() => {
  fetch("/status").then(r => r.json()).then(render).catch(() => {});
}, @REFRESH_MS@);
</script>
</body>
</html>
)HTML";

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  for (auto pos = text.find(from); pos != std::string::npos;
       pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
}

}  // namespace

std::string render_status_page(const std::string& status_json, int refresh_ms) {
  // Inside <script>, "</" could close the element: JSON allows "<\/" for it.
  std::string safe_json = status_json;
  replace_all(safe_json, "</", "<\\/");
  std::string page(kPage);
  replace_all(page, "@REFRESH_MS@", std::to_string(refresh_ms));
  replace_all(page, "@STATUS_JSON@", safe_json);
  return page;
}

}  // namespace batch_cleanup::http
