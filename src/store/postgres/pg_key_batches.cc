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
      if (!rows.is_null(r, 0)) bounds.push_back(rows.text(r, 0));
    }
    return slices_between(bounds);
  }

  void begin_slice(const PassSlice& slice) override {
    last_key_.reset();
    if (!slice.lower.empty()) last_key_ = slice.lower;
    upto_.reset();
    if (!slice.upper.empty()) upto_ = slice.upper;
    exhausted_ = false;
  }

  // Key windows: one statement picks the window's matching rows and deletes them, predicate
  // re-checked, under a short lock timeout (counts only). When a row of the window is held
  // locked by another session or refused, the window is done again the careful way: lock what
  // is free (SKIP LOCKED), delete it, isolate refused rows. Email ranges: the next `span` emails
  // of the pending index (fewer at the end of the pass or slice), span = target / the share of
  // entries that matched so far, never more than the bound, so that no range can match more. Its
  // DELETE bounds the users side by the same range; a range holding a held or refused row is
  // done the careful way. A range that deleted more than the bound anyway (rows inserted into it
  // since its end was read) is rolled back and halved (the one batch loop).
  BatchResult run_next_batch(const BatchRequest& request) override {
    if (setup_.plan.addressing == Addressing::kEmailRanges) return run_batch(email_range_, request);
    return run_batch(key_window_, request);
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
  // The next target_rows matching rows after the last key (up to the slice's end).
  class KeyWindow final : public PgBatchWindow {
   public:
    explicit KeyWindow(PgKeyBatches& batches) : b_(batches) {}

    void begin(std::int64_t target_rows, std::int64_t bound, RowDetail detail) override {
      (void)bound;
      target_rows_ = target_rows;
      detail_ = detail;
      window_ = KeysetWindow{b_.last_key_.has_value(), b_.upto_.has_value()};
      slots_ = {{"limit", target_rows}};
      if (b_.last_key_) slots_.emplace_back("after", *b_.last_key_);
      if (b_.upto_) slots_.emplace_back("upto", *b_.upto_);
      last_.reset();
    }
    const sql::Statement* fast(RowDetail detail, sql::Slots& slots) override {
      if (detail != RowDetail::kCounts) return nullptr;
      slots = slots_;
      return &b_.statements(false).fast_window[window_.index()];
    }
    void read_fast(const PgResult& rows, RowDetail, BatchResult& result) override {
      last_ = b_.read_window_counts(rows, result);
    }
    bool shrink(std::int64_t) override { return false; }  // the LIMIT bounds it
    bool shrinkable() const override { return false; }
    const sql::Statement& lock(sql::Slots& slots) override {
      slots = slots_;
      return b_.statements(detail_ == RowDetail::kWholeRows).lock_window[window_.index()];
    }
    void locked_up_to(const std::optional<std::string>& last) override { last_ = last; }
    std::string describe() const override {
      return "keyset window after " + b_.last_key_.value_or("the start");
    }
    std::function<void(BatchResult&)> advance() override {
      return [this, target_rows = target_rows_, last = last_](BatchResult& committed) {
        b_.advance(target_rows, last, committed);
      };
    }

   private:
    PgKeyBatches& b_;
    std::int64_t target_rows_ = 1;
    RowDetail detail_ = RowDetail::kCounts;
    KeysetWindow window_;
    sql::Slots slots_;
    std::optional<std::string> last_;  // the window's last keyset value
  };

  // The next `span` emails of the pending email's unique index after the last one.
  class EmailRange final : public PgBatchWindow {
   public:
    explicit EmailRange(PgKeyBatches& batches) : b_(batches) {}

    void begin(std::int64_t target_rows, std::int64_t bound, RowDetail detail) override {
      detail_ = detail;
      span_ = static_cast<std::int64_t>(
          std::clamp(std::ceil(static_cast<double>(target_rows) / b_.density_), 1.0,
                     static_cast<double>(std::max<std::int64_t>(1, bound))));
    }
    // The range's end: the email span entries on (none at the end of the pass or slice).
    void locate() override {
      const auto& s = b_.statements(detail_ == RowDetail::kWholeRows);
      sql::Slots slots{{"span", span_ - 1}};
      if (b_.last_key_) slots.emplace_back("after", *b_.last_key_);
      if (b_.upto_) slots.emplace_back("upto", *b_.upto_);
      const auto end_rows = b_.session_.run(
          s.range_end[KeysetWindow{b_.last_key_.has_value(), b_.upto_.has_value()}.index()], slots);
      end_.reset();
      if (end_rows.rows() > 0) end_ = end_rows.text(0, 0);
      const auto upper = end_ ? end_ : b_.upto_;
      window_ = KeysetWindow{b_.last_key_.has_value(), upper.has_value()};
      slots_ = {{"limit", span_}};
      if (b_.last_key_) slots_.emplace_back("after", *b_.last_key_);
      if (upper) slots_.emplace_back("upto", *upper);
    }
    const sql::Statement* fast(RowDetail detail, sql::Slots& slots) override {
      if (detail != RowDetail::kCounts) return nullptr;
      slots = slots_;
      return &b_.statements(false).range_delete[window_.index()];
    }
    void read_fast(const PgResult& deleted, RowDetail, BatchResult& result) override {
      for (int r = 0; r < deleted.rows(); ++r) {
        count_reason(deleted.text(r, 0), result.deleted_by_policy, deleted.integer(r, 1));
        result.deleted += deleted.integer(r, 1);
      }
      result.matched = result.deleted;
    }
    bool shrink(std::int64_t) override {
      if (span_ <= 1) return false;
      span_ /= 2;
      return true;
    }
    // The careful path's lock statement takes at most span rows: it ends at the range's end
    // whatever it saw last.
    bool shrinkable() const override { return false; }
    const sql::Statement& lock(sql::Slots& slots) override {
      slots = slots_;
      return b_.statements(detail_ == RowDetail::kWholeRows).lock_window[window_.index()];
    }
    std::string describe() const override {
      return "email range after " + b_.last_key_.value_or("the start");
    }
    std::function<void(BatchResult&)> advance() override {
      return [this, span = span_, end = end_](BatchResult& committed) {
        b_.advance_range(span, end, committed);
      };
    }

   private:
    PgKeyBatches& b_;
    RowDetail detail_ = RowDetail::kCounts;
    std::int64_t span_ = 1;
    std::optional<std::string> end_;  // the range's last email; none: to the end
    KeysetWindow window_;
    sql::Slots slots_;
  };

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
  KeyWindow key_window_{*this};
  EmailRange email_range_{*this};
};

}  // namespace

std::unique_ptr<PgBatches> make_key_batches(PgSession& session, sql::Executor& executor,
                                            const PgBatchSetup& setup,
                                            const std::string& pending_oid) {
  return std::make_unique<PgKeyBatches>(session, executor, setup, pending_oid);
}

}  // namespace batch_cleanup::store::postgres
