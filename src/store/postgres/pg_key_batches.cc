// Keyset batches: the next target_rows matching rows in key order, locked (SKIP LOCKED), then
// deleted with the predicate re-checked. For partitioned tables, and where ctid ranges are not
// available (PostgreSQL before 14).
#include <algorithm>

#include "store/postgres/pg_batches.h"
#include "store/reasons.h"

namespace batch_cleanup::store::postgres {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

class PgKeyBatches final : public PgBatches {
 public:
  using PgBatches::PgBatches;

  void begin_pass() override {
    last_key_.reset();
    exhausted_ = false;
  }

  BatchResult run_next_batch(const BatchRequest& request) override {
    const std::int64_t target_rows = std::max<std::int64_t>(1, request.target_rows);
    const bool whole_rows = request.detail == RowDetail::kWholeRows;
    const auto& s = statements(whole_rows);
    BatchResult result;
    std::optional<std::string> batch_last_key;
    {
      auto phase_start = Clock::now();
      PgTransaction tx(session_, PgTransaction::Kind::kTrackedWrite);
      if (setup_.fence) setup_.fence();
      const auto rows =
          last_key_ ? session_.run(s.lock_after, {{"after", *last_key_}, {"limit", target_rows}})
                    : session_.run(s.lock_first, {{"limit", target_rows}});
      std::vector<LockedRow> locked;
      batch_last_key = read_locked(rows, locked, result);
      result.timings.find_ms = ms_since(phase_start);
      phase_start = Clock::now();
      if (!locked.empty()) delete_locked(locked, whole_rows, result);
      result.timings.delete_ms = ms_since(phase_start);
      phase_start = Clock::now();
      commit_batch(tx, result, request.track_commit_lsn,
                   [this, target_rows, batch_last_key](BatchResult& committed) {
                     advance(target_rows, batch_last_key, committed);
                   });
      result.timings.commit_ms = ms_since(phase_start);
    }
    advance(target_rows, batch_last_key, result);
    return result;
  }

  // The batch is durable: advance the pass.
  void advance(std::int64_t target_rows, const std::optional<std::string>& batch_last_key,
               BatchResult& result) {
    if (result.matched < target_rows || !batch_last_key) {
      exhausted_ = true;
    } else {
      last_key_ = batch_last_key;
    }
    result.progress = exhausted_ ? 1.0 : 0.0;
    result.exhausted = exhausted_;
    tally_policies(result, setup_.single_reason);
  }

  std::vector<PlanStep> plan_steps(std::int64_t target_rows) override {
    const auto& s = statements(false);
    return {
        {"lock the batch's matching rows (first batch)", &s.lock_first, {{"limit", target_rows}}},
        {"delete the locked rows, predicate re-checked",
         &s.delete_locked,
         {{"locators", std::string("{}")}}},
        {"isolate one refused row", &s.delete_one, {{"locator", sql::Value{}}}},
    };
  }

 private:
  std::optional<std::string> last_key_;
  bool exhausted_ = false;
};

}  // namespace

std::unique_ptr<PgBatches> make_key_batches(PgSession& session, sql::Executor& executor,
                                            const PgBatchSetup& setup) {
  return std::make_unique<PgKeyBatches>(session, executor, setup);
}

}  // namespace batch_cleanup::store::postgres
