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
  body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 20px 28px;
         color: #1f2933; background: #f7f9fb; }
  h1 { font-size: 22px; margin: 0 0 4px; }
  h1 .version { font-size: 13px; color: #616e7c; font-weight: 400; margin-left: 6px; }
  h2 { font-size: 17px; margin: 0 0 4px; }
  h3 { font-size: 13px; margin: 12px 0 6px; color: #3e4c59; }
  .sub { color: #616e7c; font-size: 13px; margin-bottom: 14px; }
  .cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 10px 0 12px; }
  .card { background: #fff; border: 1px solid #d9e2ec; border-radius: 6px; padding: 8px 12px;
          min-width: 110px; }
  .card .label { font-size: 11px; color: #616e7c; text-transform: uppercase; }
  .card .value { font-size: 17px; font-weight: 600; margin-top: 2px; }
  .ok { color: #2f8132; } .bad { color: #c62828; } .warn { color: #b26a00; }
  section.job { background: #fff; border: 1px solid #d9e2ec; border-radius: 6px;
                padding: 12px 16px; margin-bottom: 18px; }
  .target { font-size: 13px; color: #3e4c59; line-height: 1.6; }
  .target code { background: #f0f4f8; padding: 1px 4px; border-radius: 3px; }
  .legend { font-size: 12px; color: #52606d; margin: 2px 0 6px; }
  .legend span.swatch { display: inline-block; width: 11px; height: 11px; margin: 0 4px -1px 12px;
                        border-radius: 2px; }
  svg text { font-size: 11px; fill: #52606d; }
  .s-success { fill: #3f7fbf; background: #3f7fbf; } .s-partial { fill: #e09f3e; background: #e09f3e; }
  .s-interrupted { fill: #8e7cc3; background: #8e7cc3; }
  .s-failed { fill: #f4c7c3; stroke: #c62828; stroke-width: 1.5; background: #f4c7c3;
              border: 1px solid #c62828; }
  table { border-collapse: collapse; width: 100%; font-size: 12px; }
  th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #e4e7eb; vertical-align: top; }
  th { color: #616e7c; font-weight: 600; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
  td.error { color: #c62828; max-width: 420px; }
</style>
</head>
<body>
<h1>batch_cleanup<span class="version" id="version"></span></h1>
<div class="sub" id="updated"></div>
<div class="cards" id="overview"></div>
<div id="jobs"></div>
<script id="initial-status" type="application/json">@STATUS_JSON@</script>
<script>
"use strict";
const SVG = "http://www.w3.org/2000/svg";
const OUTCOMES = ["success", "partial", "interrupted", "failed"];
function el(tag, attrs, text) {
  const node = ["svg", "rect", "text", "line", "g", "title"].includes(tag)
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
function duration(ms) {
  const s = Math.round(ms / 1000);
  if (s % 3600 === 0) return (s / 3600) + "h";
  if (s % 60 === 0) return (s / 60) + "m";
  return s + "s";
}
function health(j) {
  if (j.halted_on_config_error) return ["halted", "bad"];
  if (j.database_unreachable && j.consecutive_failures > 0) return ["database unreachable", "bad"];
  if (j.consecutive_failures > 0) return [j.consecutive_failures + " failed in a row", "warn"];
  return ["ok", "ok"];
}
function state(j) { return j.cycle_in_progress ? "cycle running" : (j.running ? "waiting" : "stopped"); }
function renderTarget(j) {
  const info = j.info || {};
  const t = el("div", {class: "target"});
  const line = (label, value) => {
    const d = el("div");
    d.appendChild(document.createTextNode(label + " "));
    d.appendChild(el("code", {}, value));
    t.appendChild(d);
  };
  line((info.backend || "") + " database", info.database || "");
  line("deletes from", (info.pending_table || "") + "  where a row matches  " + (info.users_table || ""));
  line("every", duration(info.interval_ms || j.interval_ms || 0) + (info.dry_run ? " (dry run)" : "") +
       "; policies: " + ((info.policies || []).join(", ") || "none") +
       ((info.protections || []).length ? "; protections: " + info.protections.join(", ") : "") +
       (info.archive_table ? "; archive: " + info.archive_table : ""));
  return t;
}
function renderCards(j) {
  const cards = el("div", {class: "cards"});
  const [verdict, cls] = health(j);
  cards.appendChild(card("state", state(j)));
  cards.appendChild(card("health", verdict, cls));
  cards.appendChild(card("last success", shortTime(j.last_success) || "never"));
  cards.appendChild(card("next run", shortTime(j.next_run) || "-"));
  cards.appendChild(card("deleted (total)", String(j.total_deleted)));
  cards.appendChild(card("failed rows (total)", String(j.total_failed), j.total_failed > 0 ? "bad" : ""));
  cards.appendChild(card("cycles", String(j.cycles) + (j.failed_cycles ? " (" + j.failed_cycles + " failed)" : "")));
  const l = j.leadership || {};
  if (l.role) {
    const c = card("role", l.role + (l.holder ? " (lease " + l.holder + ", epoch " + l.epoch +
                   (l.expires_at ? ", expires " + shortTime(l.expires_at) : "") + ")" : ""));
    c.setAttribute("data-role", l.role);
    cards.appendChild(c);
  }
  const skipped = Object.values(j.cycles_skipped || {}).reduce((n, v) => n + v, 0);
  if (skipped > 0) cards.appendChild(card("cycles skipped", String(skipped), "bad"));
  return cards;
}
function renderLegend() {
  const legend = el("div", {class: "legend"});
  legend.appendChild(document.createTextNode("rows deleted per cycle:"));
  for (const o of OUTCOMES) {
    legend.appendChild(el("span", {class: "swatch s-" + o}));
    legend.appendChild(document.createTextNode(o === "failed" ? "failed (full height; hover for the error)" : o));
  }
  return legend;
}
function renderChart(cycles, job) {
  const W = 1100, H = 220, left = 60, right = 10, top = 10, bottom = 28;
  const svg = el("svg", {class: "chart", "data-job": job, width: W, height: H, role: "img",
                         "aria-label": "rows deleted per cycle"});
  const plotW = W - left - right, plotH = H - top - bottom;
  const max = Math.max(4, ...cycles.map(c => c.deleted));
  for (let i = 0; i <= 4; ++i) {
    const y = top + plotH - plotH * i / 4;
    svg.appendChild(el("line", {x1: left, x2: W - right, y1: y, y2: y, stroke: "#e4e7eb"}));
    svg.appendChild(el("text", {x: left - 6, y: y + 4, "text-anchor": "end"}, String(Math.round(max * i / 4))));
  }
  if (cycles.length === 0) {
    svg.appendChild(el("text", {x: left + 10, y: top + plotH / 2}, "no cycles yet"));
    return svg;
  }
  const step = plotW / cycles.length;
  const barW = Math.max(2, Math.min(60, step * 0.7));
  cycles.forEach((c, i) => {
    const failed = c.outcome === "failed";
    const h = failed ? plotH : plotH * c.deleted / max;
    const x = left + i * step + (step - barW) / 2;
    const bar = el("rect", {class: "bar " + c.outcome + " s-" + c.outcome, x: x, y: top + plotH - h,
                            width: barW, height: Math.max(h, 1), "data-deleted": c.deleted,
                            "data-cycle": c.cycle_id || ""});
    bar.appendChild(el("title", {}, (c.cycle_id || "cycle") + " at " + shortTime(c.started_at) + ": " +
        (failed ? "failed: " + c.error : c.deleted + " deleted (" + c.outcome + ")")));
    svg.appendChild(bar);
    if (cycles.length <= 20 || i % Math.ceil(cycles.length / 20) === 0) {
      svg.appendChild(el("text", {x: x + barW / 2, y: H - 9, "text-anchor": "middle"},
                         (c.started_at || "").slice(11, 19)));
    }
  });
  svg.appendChild(el("line", {x1: left, x2: W - right, y1: top + plotH, y2: top + plotH, stroke: "#9aa5b1"}));
  return svg;
}
function table(headers, rows) {
  const t = el("table");
  const head = el("tr");
  for (const [text, num] of headers) head.appendChild(el("th", num ? {class: "num"} : {}, text));
  t.appendChild(el("thead")).appendChild(head);
  const body = el("tbody");
  for (const row of rows) body.appendChild(row);
  t.appendChild(body);
  return t;
}
function renderFailures(j) {
  const failures = (j.last_report && j.last_report.failures) || [];
  if (failures.length === 0) return null;
  const wrap = el("div");
  wrap.appendChild(el("h3", {}, "Rows the last cycle could not delete (" + j.last_report.failed + ")"));
  wrap.appendChild(table([["key"], ["email"], ["SQLSTATE"], ["reason"]], failures.map(f => {
    const tr = el("tr", {class: "failure"});
    tr.appendChild(el("td", {}, f.key));
    tr.appendChild(el("td", {}, f.email));
    tr.appendChild(el("td", {class: "sqlstate"}, f.sqlstate));
    tr.appendChild(el("td", {class: "error"}, f.message));
    return tr;
  })));
  return wrap;
}
function renderCycles(cycles) {
  const nums = ["candidates", "deleted", "failed", "skipped", "batches", "duration_ms"];
  return table([["cycle"], ["started (UTC)"], ["mode"], ["outcome"], ["candidates", 1], ["deleted", 1],
                ["failed", 1], ["skipped", 1], ["batches", 1], ["ms", 1], ["error"]],
               cycles.slice().reverse().slice(0, 15).map(c => {
    const tr = el("tr", {class: "cycle"});
    tr.appendChild(el("td", {}, c.cycle_id || "-"));
    tr.appendChild(el("td", {}, shortTime(c.started_at)));
    tr.appendChild(el("td", {}, c.mode));
    tr.appendChild(el("td", {class: c.outcome === "failed" || c.outcome === "partial" ? "bad" : "ok"}, c.outcome));
    for (const k of nums) tr.appendChild(el("td", {class: "num"}, String(c[k])));
    tr.appendChild(el("td", {class: "error"}, c.error || ""));
    return tr;
  }));
}
// Appends job j's section to `container`; returns how many cycles its chart shows.
function appendJob(container, j) {
  const name = j.job || "default";
  const section = el("section", {class: "job", "data-job": name});
  section.appendChild(el("h2", {}, j.job ? "job " + j.job : "cleanup"));
  section.appendChild(renderTarget(j));
  section.appendChild(renderCards(j));
  const cycles = (j.recent_cycles || []).filter(c => c.outcome !== "dry_run");
  section.appendChild(renderLegend());
  section.appendChild(renderChart(cycles, name));
  const failures = renderFailures(j);
  if (failures) section.appendChild(failures);
  section.appendChild(el("h3", {}, "Last cycles"));
  section.appendChild(renderCycles(cycles));
  container.appendChild(section);
  return cycles.length;
}
function render(status) {
  const jobs = status.jobs ? status.jobs : [status];
  const container = document.getElementById("jobs");
  container.replaceChildren();
  let shown = 0;
  for (const j of jobs) shown += appendJob(container, j);
  const info = jobs[0].info || {};
  document.getElementById("version").textContent = info.version ? "version " + info.version : "";
  const overview = document.getElementById("overview");
  overview.replaceChildren();
  const bad = jobs.filter(j => health(j)[1] !== "ok").length;
  overview.appendChild(card("jobs", String(jobs.length)));
  overview.appendChild(card("health", bad ? bad + " job(s) not ok" : "all ok", bad ? "bad" : "ok"));
  overview.appendChild(card("deleted (total)", String(jobs.reduce((n, j) => n + j.total_deleted, 0))));
  document.getElementById("updated").textContent =
      "updated " + new Date().toISOString().replace("T", " ").slice(0, 19) + " UTC; " +
      shown + " cycle(s) shown";
  document.body.setAttribute("data-rendered-cycles", String(shown));
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
