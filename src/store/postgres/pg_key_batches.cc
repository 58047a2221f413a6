// Keyset batches: the next target_rows matching rows in key order, locked (SKIP LOCKED), then
// deleted with the predicate re-checked. For partitioned tables, and where ctid ranges are not
// available (PostgreSQL before 14).
#include <fmt/format.h>

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
  PgKeyBatches(PgSession& session, sql::Executor& executor, const PgBatchSetup& setup,
               std::string pending_oid)
      : PgBatches(session, executor, setup), pending_oid_(std::move(pending_oid)) {}

  void begin_pass() override { begin_slice(PassSlice{}); }

  // Slices of keys between quantiles of a sample of the table (TABLESAMPLE, about 20,000 rows):
  // (lower, upper], the first from the smallest key, the last to the largest. Fewer slices
  // when the sample has fewer distinct keys.
  std::vector<PassSlice> plan_slices(int count) override {
    std::vector<double> fractions;
    for (int i = 1; i < count; ++i) fractions.push_back(static_cast<double>(i) / count);
    std::string array = "{";
    for (std::size_t i = 0; i < fractions.size(); ++i) {
      array += (i > 0 ? "," : "") + std::to_string(fractions[i]);
    }
    array += "}";
    const auto rows = session_.exec(
        "SELECT q::text FROM unnest((SELECT percentile_disc($1::float8[]) WITHIN GROUP (ORDER "
        "BY p." +
            setup_.tables.key + ") FROM " + setup_.tables.pending +
            " p TABLESAMPLE SYSTEM ($2::float8))) q",
        {array, fmt::format("{}", sample_percent())});
    std::vector<std::string> bounds;
    for (int r = 0; r < rows.rows(); ++r) {
      if (rows.is_null(r, 0)) continue;
      if (bounds.empty() || bounds.back() != rows.text(r, 0)) bounds.push_back(rows.text(r, 0));
    }
    const int made = static_cast<int>(bounds.size()) + 1;
    std::vector<PassSlice> slices;
    slices.reserve(static_cast<std::size_t>(made));
    for (int i = 0; i < made; ++i) {
      slices.push_back({i, made, i > 0 ? bounds[i - 1] : "", i + 1 < made ? bounds[i] : ""});
    }
    return slices;
  }

  void begin_slice(const PassSlice& slice) override {
    last_key_.reset();
    if (!slice.lower.empty()) last_key_ = slice.lower;
    upto_.reset();
    if (!slice.upper.empty()) upto_ = slice.upper;
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
      sql::Slots slots{{"limit", target_rows}};
      if (last_key_) slots.emplace_back("after", *last_key_);
      if (upto_) slots.emplace_back("upto", *upto_);
      const auto& lock = upto_ ? (last_key_ ? s.lock_after_upto : s.lock_first_upto)
                               : (last_key_ ? s.lock_after : s.lock_first);
      const auto rows = session_.run(lock, slots);
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
  // Of the table's rows, the share a sample of about 20,000 takes (all of a small table).
  double sample_percent() {
    const double rows = std::stod(
        session_
            .exec("SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::float8::text FROM "
                  "pg_partition_tree($1::oid::regclass) t JOIN pg_class c ON c.oid = t.relid "
                  "WHERE t.isleaf",
                  {pending_oid_})
            .text(0, 0));
    return rows <= 20000 ? 100.0 : std::max(0.01, 100.0 * 20000 / rows);
  }

  std::string pending_oid_;
  std::optional<std::string> last_key_;
  std::optional<std::string> upto_;  // a worker's slice ends at this key (included)
  bool exhausted_ = false;
};

}  // namespace

std::unique_ptr<PgBatches> make_key_batches(PgSession& session, sql::Executor& executor,
                                            const PgBatchSetup& setup,
                                            const std::string& pending_oid) {
  return std::make_unique<PgKeyBatches>(session, executor, setup, pending_oid);
}

}  // namespace batch_cleanup::store::postgres
