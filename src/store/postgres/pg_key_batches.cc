// Keyset batches: the next target_rows matching rows in the order of a unique column (the
// pending email where its unique index allows, else the key), deleted by one statement with the
// predicate re-checked, or, when a row is held or refused, locked (SKIP LOCKED) and then deleted.
// For partitioned tables, and where ctid ranges are not available (PostgreSQL before 14).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "store/postgres/pg_batches.h"
#include "store/reasons.h"

namespace batch_cleanup::store::postgres {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// An email range never covers more than this many times the target rows.
constexpr double kMaxScanFactor = 4.0;

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
            setup_.tables.keyset + ") FROM " + setup_.tables.pending +
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

  // The fast path (counts only): one statement picks the window's matching rows and deletes them,
  // predicate re-checked, under a short lock timeout. When a row of the window is held locked by
  // another session or refused, the window is done again the careful way: lock what is free
  // (SKIP LOCKED), delete it, isolate refused rows.
  BatchResult run_next_batch(const BatchRequest& request) override {
    if (setup_.plan.addressing == Addressing::kEmailRanges) return run_email_range(request);
    const std::int64_t target_rows = std::max<std::int64_t>(1, request.target_rows);
    const bool whole_rows = request.detail == RowDetail::kWholeRows;
    const auto& s = statements(whole_rows);
    const KeysetWindow window{last_key_.has_value(), upto_.has_value()};
    sql::Slots slots{{"limit", target_rows}};
    if (last_key_) slots.emplace_back("after", *last_key_);
    if (upto_) slots.emplace_back("upto", *upto_);
    BatchResult result;
    std::optional<std::string> batch_last_key;
    {
      auto phase_start = Clock::now();
      PgTransaction tx(session_, PgTransaction::Kind::kTrackedWrite);
      if (setup_.fence) setup_.fence();
      bool fast = false;
      if (request.detail == RowDetail::kCounts) {
        session_.exec("SAVEPOINT bc_fast");
        try {
          session_.exec("SELECT set_config('lock_timeout', $1, true)", {lock_probe_wait()});
          const auto rows = session_.run(s.fast_window[window.index()], with_cycle(slots));
          batch_last_key = read_window_counts(rows, result);
          session_.exec("RELEASE SAVEPOINT bc_fast");
          fast = true;
        } catch (const DatabaseError& e) {
          result = BatchResult{};
          fall_back_from_fast_path(e, "keyset window after " + last_key_.value_or("the start"),
                                   result);
        }
        result.timings.delete_ms = ms_since(phase_start);
      }
      if (!fast)
        batch_last_key = run_careful(s.lock_window[window.index()], slots, whole_rows, result);
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

  // Email ranges: the next `span` emails of the pending index (fewer at the end of the pass or
  // slice), span = target / the share of entries that matched so far, never more than
  // kMaxScanFactor * target (nor the request's max_rows), so that no range can match more. Its
  // DELETE bounds the users side by the same range; a range holding a held or refused row is done
  // the careful way (lock what is free, delete, isolate). A range that deleted more than the
  // bound anyway (rows inserted into it since its end was read) is rolled back and halved.
  BatchResult run_email_range(const BatchRequest& request) {
    const std::int64_t target_rows = std::max<std::int64_t>(1, request.target_rows);
    const bool whole_rows = request.detail == RowDetail::kWholeRows;
    const auto& s = statements(whole_rows);
    auto bound = static_cast<std::int64_t>(kMaxScanFactor * static_cast<double>(target_rows));
    if (request.max_rows > 0) bound = std::min(bound, request.max_rows);
    auto span = static_cast<std::int64_t>(
        std::clamp(std::ceil(static_cast<double>(target_rows) / density_), 1.0,
                   static_cast<double>(std::max<std::int64_t>(1, bound))));
    BatchResult result;
    std::optional<std::string> range_end;
    KeysetWindow window;
    sql::Slots window_slots;
    {
      auto phase_start = Clock::now();
      PgTransaction tx(session_, PgTransaction::Kind::kTrackedWrite);
      if (setup_.fence) setup_.fence();
      bool fast = false;
      while (true) {
        sql::Slots slots{{"span", span - 1}};
        if (last_key_) slots.emplace_back("after", *last_key_);
        if (upto_) slots.emplace_back("upto", *upto_);
        const auto end_rows = session_.run(
            s.range_end[KeysetWindow{last_key_.has_value(), upto_.has_value()}.index()], slots);
        range_end.reset();
        if (end_rows.rows() > 0) range_end = end_rows.text(0, 0);
        const auto upper = range_end ? range_end : upto_;
        window = KeysetWindow{last_key_.has_value(), upper.has_value()};
        window_slots = {{"limit", span}};
        if (last_key_) window_slots.emplace_back("after", *last_key_);
        if (upper) window_slots.emplace_back("upto", *upper);
        result = BatchResult{};
        if (request.detail != RowDetail::kCounts) break;
        session_.exec("SAVEPOINT bc_fast");
        try {
          session_.exec("SELECT set_config('lock_timeout', $1, true)", {lock_probe_wait()});
          const auto deleted =
              session_.run(s.range_delete[window.index()], with_cycle(window_slots));
          for (int r = 0; r < deleted.rows(); ++r) {
            count_reason(deleted.text(r, 0), result.deleted_by_policy, deleted.integer(r, 1));
            result.deleted += deleted.integer(r, 1);
          }
          if (result.deleted > bound && span > 1) {
            session_.exec("ROLLBACK TO SAVEPOINT bc_fast");
            session_.exec("RELEASE SAVEPOINT bc_fast");
            span /= 2;
            continue;
          }
          session_.exec("RELEASE SAVEPOINT bc_fast");
          result.matched = result.deleted;
          fast = true;
        } catch (const DatabaseError& e) {
          fall_back_from_fast_path(e, "email range after " + last_key_.value_or("the start"),
                                   result);
        }
        break;
      }
      result.timings.delete_ms = ms_since(phase_start);
      // The careful path: the range's matching rows (at most span of them). It ends at
      // range_end whatever the lock statement saw last.
      if (!fast) run_careful(s.lock_window[window.index()], window_slots, whole_rows, result);
      phase_start = Clock::now();
      commit_batch(tx, result, request.track_commit_lsn,
                   [this, span, range_end](BatchResult& committed) {
                     advance_range(span, range_end, committed);
                   });
      result.timings.commit_ms = ms_since(phase_start);
    }
    advance_range(span, range_end, result);
    return result;
  }

  // The range is durable: the pass goes on after its end (or is done), the match density adapts.
  void advance_range(std::int64_t span, const std::optional<std::string>& range_end,
                     BatchResult& result) {
    const double observed = static_cast<double>(result.matched) / static_cast<double>(span);
    density_ = result.matched > 0 ? std::clamp(0.3 * density_ + 0.7 * observed, 1e-4, 1.0)
                                  : std::max(1e-4, density_ / 4);
    if (range_end) {
      last_key_ = range_end;
    } else {
      exhausted_ = true;
    }
    result.progress = exhausted_ ? 1.0 : 0.0;
    result.exhausted = exhausted_;
    tally_policies(result, setup_.single_reason);
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
    if (setup_.plan.addressing == Addressing::kEmailRanges) {
      // The plans of the first range as it would run: its end read now (none on a table of
      // fewer rows than --batch-size).
      const sql::Slots span{{"span", target_rows - 1}};
      const auto end_rows = session_.run(s.range_end[KeysetWindow{}.index()], span);
      const KeysetWindow first{false, end_rows.rows() > 0};
      sql::Slots range{{"limit", target_rows}};
      if (first.upto) range.emplace_back("upto", end_rows.text(0, 0));
      return {
          {"the first range's end: the email --batch-size entries in",
           &s.range_end[KeysetWindow{}.index()], span},
          {"fast path: delete the range's matching rows, users bounded by the same range",
           &s.range_delete[first.index()], range},
          {"careful path: lock the range's free matching rows", &s.lock_window[first.index()],
           range},
          {"delete the locked rows, predicate re-checked",
           &s.delete_locked,
           {{"locators", std::string("{}")}}},
          {"isolate one refused row", &s.delete_one, {{"locator", sql::Value{}}}},
      };
    }
    return {
        {"fast path: delete the first window's matching rows",
         &s.fast_window[KeysetWindow{}.index()],
         {{"limit", target_rows}}},
        {"careful path: lock the window's free matching rows (first window)",
         &s.lock_window[KeysetWindow{}.index()],
         {{"limit", target_rows}}},
        {"delete the locked rows, predicate re-checked",
         &s.delete_locked,
         {{"locators", std::string("{}")}}},
        {"isolate one refused row", &s.delete_one, {{"locator", sql::Value{}}}},
    };
  }

 private:
  // The careful path of a window or range: its free matching rows locked (SKIP LOCKED), then
  // deleted with the predicate re-checked and refused rows isolated. Keeps the events noted so
  // far. Returns the last keyset value the lock statement matched.
  std::optional<std::string> run_careful(const sql::Statement& lock, const sql::Slots& slots,
                                         bool whole_rows, BatchResult& result) {
    auto phase_start = Clock::now();
    std::vector<LockedRow> locked;
    auto events = std::move(result.events);
    auto last = read_locked(session_.run(lock, slots), locked, result);
    result.events = std::move(events);
    result.timings.find_ms = ms_since(phase_start);
    phase_start = Clock::now();
    if (!locked.empty()) delete_locked(locked, whole_rows, result);
    result.timings.delete_ms += ms_since(phase_start);
    return last;
  }

  // Reads a fast window's result: the summary row (NULL, the window's last keyset value, its
  // matched count), then deleted rows per reason. Returns the last keyset value.
  std::optional<std::string> read_window_counts(const PgResult& rows, BatchResult& result) {
    std::optional<std::string> last;
    for (int r = 0; r < rows.rows(); ++r) {
      if (rows.is_null(r, 0)) {
        last = rows.optional_text(r, 1);
        result.matched = rows.integer(r, 2);
        continue;
      }
      count_reason(rows.text(r, 0), result.deleted_by_policy, rows.integer(r, 2));
      result.deleted += rows.integer(r, 2);
    }
    // Rows the statement matched but, re-checked by the DELETE, no longer matching.
    result.no_longer_matching = result.matched - result.deleted;
    return last;
  }

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
  // Email ranges: the share of index entries that matched, adapted range by range.
  double density_ = 1.0;
};

}  // namespace

std::unique_ptr<PgBatches> make_key_batches(PgSession& session, sql::Executor& executor,
                                            const PgBatchSetup& setup,
                                            const std::string& pending_oid) {
  return std::make_unique<PgKeyBatches>(session, executor, setup, pending_oid);
}

}  // namespace batch_cleanup::store::postgres
