#include "store/postgres/pg_batches.h"

#include <cstdio>
#include <span>
#include <thread>
#include <unordered_map>

#include "store/postgres/pg_dialect.h"
#include "store/sql/table_sql.h"

namespace batch_cleanup::store::postgres {
namespace {

// A WAL position as pg_lsn prints it ("16/B374D848").
std::uint64_t parse_lsn(const std::string& text) {
  const auto slash = text.find('/');
  if (slash == std::string::npos) return 0;
  return (std::stoull(text.substr(0, slash), nullptr, 16) << 32) |
         std::stoull(text.substr(slash + 1), nullptr, 16);
}

std::string lsn_text(std::uint64_t lsn) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%X/%X", static_cast<unsigned>(lsn >> 32),
                static_cast<unsigned>(lsn & 0xffffffffu));
  return buffer;
}

}  // namespace

const PgBatchStatements& PgBatches::statements(bool whole_rows) {
  if (!statements_ || statements_whole_rows_ != whole_rows) {
    statements_ = build_batch_statements(setup_.tables, setup_.plan, whole_rows);
    statements_whole_rows_ = whole_rows;
  }
  return *statements_;
}

sql::Slots PgBatches::with_cycle(sql::Slots slots) const {
  if (!setup_.tables.archive.empty()) slots.emplace_back("cycle", setup_.archive_cycle);
  return slots;
}

std::string PgBatches::lock_probe_wait() const {
  return std::to_string(setup_.plan.lock_probe_wait_ms) + "ms";
}

// A window's batch as the loop drives it: PostgreSQL's transaction (its id asked for at BEGIN,
// so that a commit in doubt can be resolved), the window's statements, the lock probe.
class PgBatches::Steps final : public NibbleSteps {
 public:
  Steps(PgBatches& batches, PgBatchWindow& window) : b_(batches), window_(window) {}

  void begin_transaction() override {
    tx_.emplace(b_.session_, PgTransaction::Kind::kTrackedWrite);
    if (b_.setup_.fence) b_.setup_.fence();
    b_.dependent_stats_ = PgDependentStats(b_.setup_.plan.dependents);
    b_.dependent_stats_.begin(b_.session_);
  }
  void savepoint_set() override { b_.dependent_stats_.mark(b_.session_); }
  void rolled_back() override { b_.dependent_stats_.rolled_back(b_.session_); }
  void before_commit(BatchResult& result) override {
    result.dependent_rows = b_.dependent_stats_.read(b_.session_);
  }
  void commit() override { tx_->commit(); }
  void end_transaction() noexcept override { tx_.reset(); }
  void exec(const std::string& sql) override { b_.session_.exec(sql); }

  void begin(const BatchRequest& request, std::int64_t bound) override {
    detail_ = request.detail;
    window_.begin(std::max<std::int64_t>(1, request.target_rows), bound, detail_);
  }
  void locate() override { window_.locate(); }
  bool fast_path() override {
    // With cascaded rows to archive, the batch's parent rows are locked first, by a statement
    // of their own (the careful path): a child another session inserts takes FOR KEY SHARE on
    // its parent, so it either committed before the lock, and the archive statement (a new
    // snapshot under READ COMMITTED) sees it, or it waits for our commit and then fails on its
    // foreign key. The fast path's single statement would cascade a child committed after its
    // snapshot without archiving it.
    if (!b_.setup_.tables.archive.empty() && !b_.setup_.tables.cascaded.empty()) return false;
    slots_.clear();
    statement_ = window_.fast(detail_, slots_);
    return statement_ != nullptr;
  }
  void run_fast(BatchResult& result) override {
    window_.read_fast(b_.session_.run(*statement_, b_.with_cycle(std::move(slots_))), detail_,
                      result);
  }
  void probe_locks() override { set_lock_timeout(b_.lock_probe_wait()); }
  void restore_locks() override { set_lock_timeout(b_.setup_.lock_timeout); }
  Overflow overflow(std::int64_t matched) override {
    return window_.shrink(matched) ? Overflow::kShrunk : Overflow::kKeep;
  }
  bool shrinkable() const override { return window_.shrinkable(); }
  void lock(BatchResult& result) override {
    locked_.clear();
    sql::Slots slots;
    const sql::Statement& lock = window_.lock(slots);
    window_.locked_up_to(b_.read_locked(b_.session_.run(lock, slots), locked_, result));
  }
  void delete_locked(BatchResult& result) override {
    if (!locked_.empty()) b_.delete_locked(locked_, detail_ == RowDetail::kWholeRows, result);
  }
  std::string describe() const override { return window_.describe(); }
  BatchAdvance advance() override { return window_.advance(); }
  void keep_in_doubt(const BatchResult& result, BatchAdvance advance) override {
    b_.in_doubt_ = InDoubt{tx_->id(), result, std::move(advance)};
  }
  void committed(const BatchRequest& request) override {
    if (!request.track_commit_lsn) return;
    b_.commits_.emplace_back(
        parse_lsn(b_.session_.exec("SELECT pg_current_wal_lsn()::text").text(0, 0)),
        std::chrono::steady_clock::now());
  }

 private:
  void set_lock_timeout(const std::string& value) {
    b_.session_.exec("SELECT set_config('lock_timeout', $1, true)", {value});
  }

  PgBatches& b_;
  PgBatchWindow& window_;
  std::optional<PgTransaction> tx_;
  RowDetail detail_ = RowDetail::kCounts;
  const sql::Statement* statement_ = nullptr;
  sql::Slots slots_;
  std::vector<LockedRow> locked_;
};

BatchResult PgBatches::run_batch(PgBatchWindow& window, const BatchRequest& request) {
  Steps steps(*this, window);
  return NibbleLoop::run_batch(steps, request);
}

std::string PgBatches::explain(std::int64_t target_rows) {
  std::string out;
  for (const auto& step : plan_steps(target_rows)) {
    out += "-- " + step.title + "\n" + step.statement->text() + "\n";
    std::vector<std::optional<std::string>> params;
    for (const auto& value : step.statement->values(with_cycle(step.slots))) {
      params.push_back(sql::to_text(value));
    }
    const auto rows = session_.exec("EXPLAIN " + step.statement->text(), params);
    for (int r = 0; r < rows.rows(); ++r) out += rows.text(r, 0) + "\n";
    out += "\n";
  }
  return out;
}

std::vector<std::string> PgBatches::existing_keys(const std::vector<std::string>& keys) {
  const auto& t = setup_.tables;
  return sql::existing_keys(executor_, t.pending, t.key, t.key_type, keys);
}

// Measured against the WAL position of the pass's last commit, not pg_stat_replication's
// replay_lag alone (which is stale for seconds after a standby caught up, and misses a burst of
// commits): a standby that replayed past that position is not behind, whatever replay_lag
// still says; one that has not is behind by the bytes in between, and for as long as the
// oldest commit it has not replayed is old (or replay_lag, when that is longer).
ReplicationLag PgBatches::replication_lag() {
  const std::optional<std::string> target =
      commits_.empty() ? std::nullopt : std::optional<std::string>(lsn_text(commits_.back().first));
  // replay_lsn and replay_lag are visible to superusers and members of pg_monitor.
  const auto row = session_.exec(
      "SELECT count(*), coalesce(max(pg_wal_lsn_diff(t.lsn, coalesce(r.replay_lsn, "
      "r.flush_lsn))), 0)::bigint, coalesce(min(coalesce(r.replay_lsn, r.flush_lsn))::text, ''), "
      "coalesce(round(max(extract(epoch FROM r.replay_lag) * 1000) FILTER (WHERE "
      "coalesce(r.replay_lsn, r.flush_lsn) < t.lsn)), 0)::bigint FROM "
      "pg_catalog.pg_stat_replication r, (SELECT coalesce($1::pg_lsn, pg_current_wal_lsn()) AS "
      "lsn) t WHERE r.state = 'streaming'",
      {target});
  ReplicationLag lag;
  lag.standbys = static_cast<int>(row.integer(0, 0));
  if (lag.standbys == 0) {
    commits_.clear();
    return lag;
  }
  lag.bytes = std::max<long long>(0, row.integer(0, 1));
  const std::uint64_t replayed = row.is_null(0, 2) ? 0 : parse_lsn(row.text(0, 2));
  while (!commits_.empty() && commits_.front().first <= replayed) commits_.pop_front();
  auto time = std::chrono::milliseconds(lag.bytes > 0 ? row.integer(0, 3) : 0);
  if (!commits_.empty() && lag.bytes > 0) {
    time = std::max(time, std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - commits_.front().second));
  }
  lag.time = time;
  return lag;
}

InDoubtOutcome PgBatches::resolve_in_doubt() {
  InDoubtOutcome outcome;
  if (!in_doubt_) return outcome;
  InDoubt batch = std::move(*in_doubt_);
  in_doubt_.reset();
  outcome.state = InDoubtOutcome::State::kUnknown;
  if (batch.transaction_id.empty()) return outcome;
  // A COMMIT the server had not finished when the connection died may still be in progress.
  for (int attempt = 0; attempt < 10; ++attempt) {
    const auto row = session_.exec("SELECT txid_status($1::bigint)", {batch.transaction_id});
    const std::string status = row.optional_text(0, 0).value_or("");
    if (status == "committed") {
      batch.advance(batch.result);
      outcome.state = InDoubtOutcome::State::kCommitted;
      outcome.result = std::move(batch.result);
      return outcome;
    }
    if (status == "aborted") {
      outcome.state = InDoubtOutcome::State::kRolledBack;
      return outcome;
    }
    if (status != "in progress") return outcome;  // too old to tell
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return outcome;
}

std::optional<std::string> PgBatches::read_locked(const PgResult& rows,
                                                  std::vector<LockedRow>& locked,
                                                  BatchResult& result) {
  std::optional<std::string> last_key;
  for (int r = 0; r < rows.rows(); ++r) {
    if (rows.is_null(r, 0)) {
      result.matched = rows.integer(r, 3);
      last_key = rows.optional_text(r, 1);
    } else {
      locked.push_back({rows.text(r, 0), {rows.text(r, 1), rows.optional_text(r, 2).value_or("")}});
    }
  }
  result.skipped = result.matched - static_cast<std::int64_t>(locked.size());
  return last_key;
}

void PgBatches::delete_locked(const std::vector<LockedRow>& locked, bool whole_rows,
                              BatchResult& result) {
  const bool skip_locked = setup_.plan.skip_locked;
  // Without SKIP LOCKED the rows are not locked yet: wait only briefly for each.
  if (!skip_locked) {
    session_.exec("SELECT set_config('lock_timeout', $1, true)", {lock_probe_wait()});
  }
  const std::int64_t deleted_before = result.deleted;
  delete_part(locked, whole_rows, result);
  if (!skip_locked) {
    session_.exec("SELECT set_config('lock_timeout', $1, true)", {setup_.lock_timeout});
  }
  const std::int64_t deleted = result.deleted - deleted_before;
  result.no_longer_matching = static_cast<std::int64_t>(locked.size()) - deleted -
                              static_cast<std::int64_t>(result.failures.size()) -
                              (skip_locked ? 0 : result.skipped);
}

// Deletes `rows` in one statement under a savepoint. When a constraint or trigger refuses one of
// them, or (without SKIP LOCKED) one is held by another session, the part is split in halves,
// each tried again, until every bad row stands alone: k bad rows cost about 2k*log2(n/k)
// statements, not n.
void PgBatches::delete_part(std::span<const LockedRow> rows, bool whole_rows, BatchResult& result) {
  if (rows.empty()) return;
  const auto& s = statements(whole_rows);
  std::vector<std::string> locators;
  locators.reserve(rows.size());
  for (const auto& row : rows) locators.push_back(row.locator);
  session_.exec("SAVEPOINT bc_part");
  dependent_stats_.mark(session_);
  try {
    const auto deleted =
        session_.run(s.delete_locked, with_cycle({{"locators", array_literal(locators)}}));
    session_.exec("RELEASE SAVEPOINT bc_part");
    std::unordered_map<std::string, std::pair<std::string, std::string>> gone;  // reason, json
    for (int r = 0; r < deleted.rows(); ++r) {
      gone[deleted.text(r, 0)] = {deleted.text(r, 1), whole_rows ? deleted.text(r, 2) : ""};
    }
    for (const auto& row : rows) {
      const auto found = gone.find(row.locator);
      if (found == gone.end()) continue;
      result.deleted_rows.push_back(row.row);
      result.deleted_rows.back().reason = found->second.first;
      result.deleted_rows.back().row_json = found->second.second;
    }
    result.deleted += deleted.rows();
  } catch (const DatabaseError& e) {
    const bool held = !setup_.plan.skip_locked && e.cause() == ErrorCause::kLockTimeout;
    if (e.cause() != ErrorCause::kRowRefused && !held) throw;
    session_.exec("ROLLBACK TO SAVEPOINT bc_part");
    dependent_stats_.rolled_back(session_);
    session_.exec("RELEASE SAVEPOINT bc_part");
    if (rows.size() == 1) {
      if (held) {
        ++result.skipped;  // held by another session: left for the next cycle
      } else {
        result.failures.push_back({rows.front().row, e.code(), e.what()});
      }
      return;
    }
    result.events.push_back({BatchEvent::Kind::kBatchRefused,
                             static_cast<std::int64_t>(rows.size()), e.code(), e.what()});
    const auto half = rows.size() / 2;
    delete_part(rows.first(half), whole_rows, result);
    delete_part(rows.subspan(half), whole_rows, result);
  }
}

}  // namespace batch_cleanup::store::postgres
