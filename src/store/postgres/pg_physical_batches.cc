// Physical batches: ranges of the heap's ctid order, each scanned by a Tid Range Scan. The fast
// path deletes a range's matching rows in one statement; a range holding a locked or refused row
// is done again the careful way.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "store/postgres/pg_batches.h"
#include "store/reasons.h"

namespace batch_cleanup::store::postgres {
namespace {

constexpr double kMaxPagesPerBatch = 1 << 20;

// A heap position: page `block`, line pointer `offset` (0: the start of the page).
struct TidPos {
  long long block = 0;
  long long offset = 0;
};

std::string tid_text(long long block, long long offset = 0) {
  return fmt::format("({},{})", block, offset);
}
std::string tid_text(const TidPos& pos) { return tid_text(pos.block, pos.offset); }

// The fast path: a single DELETE of the range's matching rows, the predicate evaluated by the
// DELETE itself, under a short lock timeout. When a row of the range is held locked by another
// session (lock_not_available) or a row is refused, the range is done again the careful way:
// lock what is free (SKIP LOCKED), delete it, and isolate refused rows. A range that held more
// than the bound is rolled back (to its savepoint) and halved until it does not: no batch commits
// more (the one batch loop, store/nibble_loop.h).
class PgPhysicalBatches final : public PgBatches, private PgBatchWindow {
 public:
  PgPhysicalBatches(PgSession& session, sql::Executor& executor, const PgBatchSetup& setup,
                    std::string pending_oid)
      : PgBatches(session, executor, setup), pending_oid_(std::move(pending_oid)) {}

  void begin_pass() override { begin_slice(PassSlice{}); }

  // Slices of whole pages: [lower, upper), the last one open-ended (pages appended while the
  // pass runs are its).
  std::vector<PassSlice> plan_slices(int count) override {
    const long long pages = relation_pages();
    std::vector<PassSlice> slices;
    for (int i = 0; i < count; ++i) {
      PassSlice slice{i, count, std::to_string(pages * i / count), ""};
      if (i + 1 < count) slice.upper = std::to_string(pages * (i + 1) / count);
      slices.push_back(std::move(slice));
    }
    return slices;
  }

  void begin_slice(const PassSlice& slice) override {
    first_block_ = slice.lower.empty() ? 0 : std::stoll(slice.lower);
    fixed_end_ = !slice.upper.empty();
    next_block_ = first_block_;
    next_offset_ = 0;
    end_block_ = relation_pages();
    tuples_per_page_ = measure_tuples_per_page();
    if (fixed_end_) end_block_ = std::min(end_block_, std::stoll(slice.upper));
    exhausted_ = false;
    // MaxHeapTuplesPerPage: (block size - page header) / (tuple header + line pointer).
    const auto block_size =
        session_.exec("SELECT current_setting('block_size')::bigint").integer(0, 0);
    max_tuples_per_page_ = (block_size - 24) / (24 + 4);
    // Start by assuming every row matches (a small first batch); adapt from there.
    density_ = tuples_per_page_;
  }

  BatchResult run_next_batch(const BatchRequest& request) override {
    return run_batch(*this, request);
  }

  std::vector<PlanStep> plan_steps(std::int64_t target_rows) override {
    const auto& s = statements(false);
    const auto end = range_end(target_rows);
    const std::string lo = tid_text(next_block_, next_offset_);
    const sql::Slots range{{"lo", lo}, {"hi", tid_text(end)}};
    return {
        {"fast path: delete the range's matching rows (" + lo + " to " + tid_text(end) + ")",
         &s.fast_delete, range},
        {"careful path: lock the range's free matching rows", &s.lock_range, range},
        {"careful path: delete the locked rows, predicate re-checked",
         &s.delete_locked,
         {{"locators", std::string("{\"(0,1)\",\"(0,2)\"}")}}},
        {"isolate one refused row", &s.delete_one, {{"locator", std::string("(0,1)")}}},
    };
  }

 private:
  // ---- The batch's window: the range from the cursor to end_.

  void begin(std::int64_t target_rows, std::int64_t bound, RowDetail detail) override {
    (void)bound;
    detail_ = detail;
    end_ = range_end(target_rows);
  }

  const sql::Statement* fast(RowDetail detail, sql::Slots& slots) override {
    const auto& s = statements(detail == RowDetail::kWholeRows);
    slots = {{"lo", tid_text(next_block_, next_offset_)}, {"hi", tid_text(end_)}};
    // Rows come back only when asked for. Otherwise, with several policies or the archive table
    // (whose INSERT rides on the same statement), the statement returns a count per reason;
    // with neither, just its row count.
    if (detail != RowDetail::kCounts) return &s.fast_delete_returning;
    return counting() ? &s.fast_delete_counting : &s.fast_delete;
  }

  bool counting() const { return !setup_.tables.archive.empty() || setup_.single_reason.empty(); }

  void read_fast(const PgResult& deleted, RowDetail detail, BatchResult& result) override {
    const bool want_rows = detail != RowDetail::kCounts;
    if (!want_rows && counting()) {
      for (int r = 0; r < deleted.rows(); ++r) {
        count_reason(deleted.text(r, 0), result.deleted_by_policy, deleted.integer(r, 1));
        result.deleted += deleted.integer(r, 1);
      }
    } else {
      for (int r = 0; r < deleted.rows(); ++r) {
        result.deleted_rows.push_back(
            {deleted.text(r, 0), deleted.optional_text(r, 1).value_or("")});
        result.deleted_rows.back().reason = deleted.text(r, 2);
        if (detail == RowDetail::kWholeRows)
          result.deleted_rows.back().row_json = deleted.text(r, 3);
      }
      result.deleted = want_rows ? deleted.rows() : deleted.affected();
    }
    result.matched = result.deleted;
  }

  bool shrink(std::int64_t matched) override {
    TidPos smaller = end_;
    if (!halve(smaller)) return false;
    learn_density(end_, matched);
    end_ = smaller;
    return true;
  }

  bool shrinkable() const override { return true; }

  const sql::Statement& lock(sql::Slots& slots) override {
    slots = {{"lo", tid_text(next_block_, next_offset_)}, {"hi", tid_text(end_)}};
    return statements(detail_ == RowDetail::kWholeRows).lock_range;
  }

  std::string describe() const override {
    return tid_text(next_block_, next_offset_) + " to " + tid_text(end_);
  }

  std::function<void(BatchResult&)> advance() override {
    return [this, end = end_](BatchResult& committed) {
      move_past(end, committed);
      tally_policies(committed, setup_.single_reason);
    };
  }

  long long relation_pages() {
    return session_
        .exec("SELECT pg_relation_size($1::oid) / current_setting('block_size')::bigint",
              {pending_oid_})
        .integer(0, 0);
  }

  // Tuples on the fullest pages of a sample spread over the whole table (TABLESAMPLE SYSTEM
  // reads about 64 random pages; a small table is read whole): what a range of pages may hold at
  // most, whatever the density of its first pages (empty after a mass delete) says.
  double measure_tuples_per_page() {
    const double percent =
        end_block_ <= 64 ? 100.0 : std::max(0.001, 100.0 * 64.0 / static_cast<double>(end_block_));
    const auto row = session_.exec(
        "SELECT coalesce(max(n), 0), coalesce(avg(n), 0) FROM (SELECT count(*) AS n FROM " +
            setup_.tables.pending +
            " p TABLESAMPLE SYSTEM ($1::float8) GROUP BY "
            "(p.ctid::text::point)[0]) s",
        {fmt::format("{}", percent)});
    // The 90% point between the mean and the fullest page: dense regions are planned for,
    // and the rollback below corrects the rare range denser still.
    const double fullest = std::stod(row.text(0, 0));
    const double mean = std::stod(row.text(0, 1));
    return std::max(1.0, mean + 0.9 * (fullest - mean));
  }

  // Positions in line-pointer units, to halve a range of pages or of part of one.
  long long linear(const TidPos& pos) const {
    return pos.block * (max_tuples_per_page_ + 1) + pos.offset;
  }
  TidPos from_linear(long long at) const {
    return {at / (max_tuples_per_page_ + 1), at % (max_tuples_per_page_ + 1)};
  }

  // Where the next batch ends (exclusive): enough heap for about target_rows matches at the
  // density seen so far, and never more than kMaxScanFactor * target_rows tuples at the densest
  // the table has shown, so that a batch stays bounded even where the density jumps. Small
  // batches cover part of a page.
  TidPos range_end(std::int64_t target_rows) const {
    const double cap =
        std::clamp(kMaxScanFactor * static_cast<double>(target_rows) / tuples_per_page_, 0.0,
                   kMaxPagesPerBatch);
    const double pages = std::clamp(static_cast<double>(target_rows) / density_, 0.0, cap);
    if (next_offset_ == 0 && pages >= 1.0) {
      const long long end = next_block_ + static_cast<long long>(std::ceil(pages));
      return {fixed_end_ ? std::min(end, end_block_) : end, 0};
    }
    // Past the line pointers a page of this table usually has: the rest of the page (it is most
    // likely empty; were it not, the rollback-and-halve below keeps the batch bounded).
    if (next_offset_ > 0 && static_cast<double>(next_offset_) >= tuples_per_page_) {
      return {next_block_ + 1, 0};
    }
    // Part of a page: count line pointers from the cursor, never past the page's last one.
    const auto tuples =
        std::max<long long>(1, static_cast<long long>(std::ceil(pages * tuples_per_page_)));
    const long long end_offset = std::max<long long>(next_offset_, 1) + tuples;
    if (end_offset > max_tuples_per_page_) return {next_block_ + 1, 0};
    return {next_block_, end_offset};
  }

  // Half of the range from the cursor to `end`; false when it is a single line pointer.
  bool halve(TidPos& end) const {
    const long long from = linear({next_block_, next_offset_});
    const long long to = linear(end);
    if (to - from <= 1) return false;
    end = from_linear(from + (to - from) / 2);
    return true;
  }

  // The pages from the cursor to `end`: whole pages, and a part of one counted in line pointers
  // at the table's tuples per page (a page's line pointers number about its tuples).
  double pages_to(const TidPos& end) const {
    const double pages = static_cast<double>(end.block - next_block_) +
                         static_cast<double>(end.offset - next_offset_) / tuples_per_page_;
    return std::max(1.0 / tuples_per_page_, pages);
  }

  // A range matched `rows` over [cursor, end): the table is at least that dense there.
  void learn_density(const TidPos& end, std::int64_t rows) {
    const double pages = pages_to(end);
    tuples_per_page_ = std::max(tuples_per_page_, static_cast<double>(rows) / pages);
    density_ = std::max(density_, static_cast<double>(rows) / pages);
  }

  // The batch is durable: move the cursor past its range and adapt the density.
  void move_past(const TidPos& end, BatchResult& result) {
    const double scanned = pages_to(end);
    const double observed = static_cast<double>(result.matched) / scanned;
    density_ = result.matched > 0 ? std::max(1e-4, 0.3 * density_ + 0.7 * observed)
                                  : std::max(1e-4, density_ / 4);
    next_block_ = end.block;
    next_offset_ = end.offset;
    if (next_block_ >= end_block_) {
      // The table may have grown while we worked (its pages are the last slice's).
      if (!fixed_end_) end_block_ = relation_pages();
      exhausted_ = next_block_ >= end_block_;
    }
    const long long span = end_block_ - first_block_;
    result.progress =
        span > 0 ? std::clamp(static_cast<double>(next_block_ - first_block_) / span, 0.0, 1.0)
                 : 1.0;
    result.exhausted = exhausted_;
  }

  std::string pending_oid_;
  // The batch in flight.
  RowDetail detail_ = RowDetail::kCounts;
  TidPos end_;
  // Pass state; advanced only after a batch commits.
  long long first_block_ = 0;  // where the pass (or its slice) starts
  bool fixed_end_ = false;     // a slice that ends at end_block_, whatever is appended
  long long next_block_ = 0;
  long long next_offset_ = 0;            // line pointer within next_block_ (0: its start)
  long long max_tuples_per_page_ = 291;  // MaxHeapTuplesPerPage for the server's block size
  double tuples_per_page_ = 60.0;        // the densest pages seen: sampled, then corrected
  long long end_block_ = 0;
  double density_ = 60.0;  // matching rows per page, adapted batch by batch
  bool exhausted_ = false;
};

}  // namespace

std::unique_ptr<PgBatches> make_physical_batches(PgSession& session, sql::Executor& executor,
                                                 const PgBatchSetup& setup,
                                                 const std::string& pending_oid) {
  return std::make_unique<PgPhysicalBatches>(session, executor, setup, pending_oid);
}

}  // namespace batch_cleanup::store::postgres
