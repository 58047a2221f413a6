// Google Benchmark of the client-side code a cycle runs per batch or per scrape: what could make
// the tool, not the database, the bottleneck. Run: scripts/micro_bench.sh (results in
// bench/results/micro.json; BENCHMARKS.md "Client-side code").
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "batch_cleanup/service.h"
#include "engine/archive_file.h"
#include "observability/prometheus.h"
#include "store/postgres/pg_dialect.h"

namespace {

using batch_cleanup::ServiceStatus;

std::vector<batch_cleanup::store::PendingRow> deleted_rows(int count) {
  std::vector<batch_cleanup::store::PendingRow> rows;
  rows.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    const std::string key = fmt::format("2f1c9a3e-5b7d-4c1e-9a2b-{:012d}", i);
    const std::string email = fmt::format("user{}@example.com", i);
    rows.emplace_back(key, email,
                      fmt::format(R"({{"pending_user_id":"{}","email":"{}","phone":null,)"
                                  R"("full_name":"Pending {}","otp_hash":"5f4dcc3b5aa765d61d8327d)"
                                  R"(eb882cf99","created_at":"2026-12-01T10:00:00.123+00:00"}})",
                                  key, email, i));
    rows.back().reason = "email exists in users";
  }
  return rows;
}

// --archive-file: the row lines of one batch, written and fsynced before its COMMIT, then the
// commit line. The fsync is included: it is what a batch waits for.
void BM_ArchiveFileBatch(benchmark::State& state) {
  const auto rows = deleted_rows(static_cast<int>(state.range(0)));
  char dir[] = "/tmp/bc_micro_XXXXXX";
  if (mkdtemp(dir) == nullptr) {
    state.SkipWithError("mkdtemp failed");
    return;
  }
  const std::string path = std::string(dir) + "/archive.ndjson";
  {
    batch_cleanup::engine::ArchiveFile file(path);
    file.begin_cycle("micro");
    for (auto _ : state) {
      file.before_commit(rows);
      file.after_commit(true);
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  unlink(path.c_str());
  rmdir(dir);
}
BENCHMARK(BM_ArchiveFileBatch)->Arg(1000)->Arg(5000)->Unit(benchmark::kMillisecond);

// The careful path's array literal of locators (ctids) for the DELETE of the locked rows.
void BM_ArrayLiteralOfLocators(benchmark::State& state) {
  std::vector<std::string> ctids;
  for (int i = 0; i < state.range(0); ++i) ctids.push_back(fmt::format("({},{})", i / 60, i % 60));
  for (auto _ : state) {
    benchmark::DoNotOptimize(batch_cleanup::store::postgres::array_literal(ctids));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ArrayLiteralOfLocators)->Arg(5000)->Unit(benchmark::kMicrosecond);

ServiceStatus busy_status() {
  ServiceStatus status;
  status.running = true;
  status.interval = std::chrono::hours(1);
  status.cycles = 1000;
  status.totals.deleted = 5'000'000;
  status.totals.batches = 1'000;
  for (int i = 0; i < 100000; ++i) status.batch_duration.observe(0.001 * (i % 250));
  for (std::size_t i = 0; i < ServiceStatus::kRecentCycles; ++i) {
    batch_cleanup::RunRecord run;
    run.cycle_id = fmt::format("cycle{}", i);
    run.outcome = "success";
    status.recent_cycles.push_back(run);
  }
  status.cycles_by_outcome = {{"success", 990}, {"failed", 10}};
  const auto now = std::chrono::system_clock::now();
  status.last_cycle_by_outcome = {{"success", now}, {"failed", now}};
  status.last_run = now;
  status.last_success = now;
  return status;
}

// /metrics of a process running `jobs` jobs: what each scrape costs the process.
void BM_RenderMetrics(benchmark::State& state) {
  std::vector<batch_cleanup::observability::JobStatus> jobs;
  for (int i = 0; i < state.range(0); ++i) jobs.push_back({fmt::format("job{}", i), busy_status()});
  batch_cleanup::observability::ExpositionOptions options;
  options.label_jobs = jobs.size() > 1;
  std::size_t bytes = 0;
  for (auto _ : state) {
    const auto text = batch_cleanup::observability::render_metrics(jobs, options);
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_RenderMetrics)->Arg(1)->Arg(3)->Unit(benchmark::kMicrosecond);

// /status's JSON of one job.
void BM_StatusJson(benchmark::State& state) {
  const auto status = busy_status();
  for (auto _ : state) benchmark::DoNotOptimize(status.to_json());
}
BENCHMARK(BM_StatusJson)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
