// An in-memory store for engine unit tests, with fault injection. It keeps the real semantics
// that matter to the engine: exact email match, NULL never matches, rows locked by "another
// session" are skipped, refused rows are isolated, and the pass only advances when a batch
// "commits". It plays every role the engine uses; restore and explain are the subcommands', and
// it has none.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "batch_cleanup/errors.h"
#include "store/reasons.h"
#include "store/store.h"

namespace batch_cleanup::testing {

struct FakeRow {
  std::string key;
  std::optional<std::string> email;
  bool locked_by_other = false;
  std::string refuse_sqlstate;  // non-empty: a constraint refuses to delete this row
};

struct FakeDatabase {
  std::set<std::string> user_emails;
  std::map<std::string, FakeRow> pending;  // by key (key order = batch order)

  // Fault injection.
  int connect_failures = 0;                // the next N connect() calls fail (retryable)
  bool connect_fatal = false;              // connect() fails with a fatal (authentication) error
  std::deque<DatabaseError> batch_errors;  // thrown by the next run_next_batch() calls, in order
  bool commit_in_doubt_once = false;  // the next batch deletes, then reports an in-doubt commit
  bool users_empty = false;           // users_table_empty() answers true
  std::atomic<bool> lock_held_elsewhere{false};  // try_lock() fails while set

  // Observations.
  int connects = 0;
  int batch_calls = 0;
  int delete_calls = 0;
  std::vector<std::int64_t> batch_targets;
  std::function<void()> on_batch;  // runs at the start of every run_next_batch()
  std::vector<RunRecord> history;  // record_run() appends here
  bool history_fails = false;      // record_run() throws a fatal error
  int lock_attempts = 0;
  bool lock_held = false;
  int candidate_counts = 0;  // count_candidates() calls
  std::atomic<std::chrono::milliseconds> replication_lag{std::chrono::milliseconds(0)};
  std::atomic<std::int64_t> replication_lag_bytes{0};
  int lag_queries = 0;
  // Archive: rows deleted while an archive cycle is set, with that cycle id.
  std::optional<std::string> archive_cycle;
  std::vector<std::pair<std::string, FakeRow>> archive;
};

class FakeStore final : public store::Store,
                        public store::BatchStore,
                        public store::DryRunQueries,
                        public store::HistoryTable,
                        public store::ArchiveTable,
                        public store::InstanceLock {
 public:
  explicit FakeStore(FakeDatabase& db) : db_(db) {}

  // ---- Store
  std::string backend_name() const override { return "fake"; }

  void connect() override {
    ++db_.connects;
    if (db_.connect_fatal) {
      throw DatabaseError(ErrorCause::kAuthentication, "28P01", "password authentication failed");
    }
    if (db_.connect_failures > 0) {
      --db_.connect_failures;
      throw DatabaseError(ErrorCause::kConnectionLost, "08006", "connection refused");
    }
  }

  // Every table, column, privilege and index is there.
  store::PreflightFacts inspect() override {
    store::PreflightFacts facts;
    facts.capabilities.backend = "fake";
    facts.capabilities.product = "the fake store";
    facts.capabilities.skip_locked = true;
    facts.capabilities.savepoints = true;
    facts.capabilities.time_zones = true;
    for (auto* table : {&facts.pending, &facts.users}) {
      table->exists = table->is_table = true;
      table->can_select = table->can_delete = table->can_insert = table->can_update = true;
    }
    for (auto* column : {&facts.key, &facts.pending_email, &facts.users_email}) {
      column->checked = column->exists = true;
    }
    facts.key_unique = true;
    // Keyset batches, as the fake's own pass is.
    facts.physical = store::PhysicalSupport::kPartitioned;
    return facts;
  }

  void configure(const store::BatchPlan&) override {}
  store::BatchStore& batches() override { return *this; }
  store::DryRunQueries& dry_run() override { return *this; }
  store::HistoryTable& history() override { return *this; }
  store::ArchiveTable& archive() override { return *this; }
  store::InstanceLock& instance_lock() override { return *this; }
  void cancel() noexcept override {}

  // ---- BatchStore
  void begin_pass() override { cursor_.reset(); }

  store::BatchResult run_next_batch(const store::BatchRequest& request) override {
    const std::int64_t target_rows = request.target_rows;
    ++db_.batch_calls;
    db_.batch_targets.push_back(target_rows);
    if (db_.on_batch) db_.on_batch();
    if (!db_.batch_errors.empty()) {
      DatabaseError error = db_.batch_errors.front();
      db_.batch_errors.pop_front();
      throw error;
    }
    store::BatchResult result;
    std::vector<std::string> batch;
    auto it = cursor_ ? db_.pending.upper_bound(*cursor_) : db_.pending.begin();
    std::optional<std::string> last;
    for (; it != db_.pending.end() && static_cast<std::int64_t>(batch.size()) < target_rows; ++it) {
      if (!matches(it->second)) continue;
      batch.push_back(it->first);
      last = it->first;
    }
    result.matched = static_cast<std::int64_t>(batch.size());
    ++db_.delete_calls;
    for (const auto& key : batch) {
      FakeRow& row = db_.pending.at(key);
      if (row.locked_by_other) {
        ++result.skipped;
      } else if (!row.refuse_sqlstate.empty()) {
        result.failures.push_back(
            {{key, *row.email},
             row.refuse_sqlstate,
             "update or delete violates foreign key constraint (Key (email)=(" + *row.email +
                 ") is still referenced)"});
      } else {
        result.deleted_rows.push_back({key, *row.email});
        result.deleted_rows.back().reason = store::kEmailReason;
      }
    }
    if (observer_ != nullptr && !result.deleted_rows.empty()) {
      for (auto& row : result.deleted_rows) row.row_json = "{\"key\":\"" + row.key + "\"}";
      observer_->before_commit(result.deleted_rows);
      observer_->after_commit(true);
    }
    for (const auto& row : result.deleted_rows) {
      if (db_.archive_cycle) db_.archive.emplace_back(*db_.archive_cycle, db_.pending.at(row.key));
      db_.pending.erase(row.key);
    }
    result.deleted = static_cast<std::int64_t>(result.deleted_rows.size());
    store::tally_policies(result, store::kEmailReason);
    result.exhausted = result.matched < target_rows;
    if (last) cursor_ = last;
    result.progress = result.exhausted ? 1.0 : 0.5;
    if (db_.commit_in_doubt_once && result.deleted > 0) {
      db_.commit_in_doubt_once = false;  // the deletion did commit, but we never heard back
      in_doubt_ = result;
      throw DatabaseError(ErrorCause::kInDoubt, "08006", "connection lost during COMMIT");
    }
    return result;
  }

  std::string explain(std::int64_t) override {
    throw std::logic_error("the fake store has no query plans");
  }

  void set_commit_observer(store::CommitObserver* observer) override { observer_ = observer; }

  std::vector<std::string> existing_keys(const std::vector<std::string>& keys) override {
    std::vector<std::string> out;
    for (const auto& key : keys) {
      if (db_.pending.count(key)) out.push_back(key);
    }
    return out;
  }

  store::ReplicationLag replication_lag() override {
    ++db_.lag_queries;
    store::ReplicationLag lag;
    lag.time = db_.replication_lag;
    lag.bytes = db_.replication_lag_bytes;
    lag.standbys = 1;
    return lag;
  }

  // The fake's in-doubt commits did commit.
  store::InDoubtOutcome resolve_in_doubt() override {
    store::InDoubtOutcome outcome;
    if (!in_doubt_) return outcome;
    outcome.state = store::InDoubtOutcome::State::kCommitted;
    outcome.result = std::move(*in_doubt_);
    in_doubt_.reset();
    return outcome;
  }

  // ---- DryRunQueries
  std::int64_t count_candidates() override {
    ++db_.candidate_counts;
    std::int64_t n = 0;
    for (const auto& [key, row] : db_.pending) n += matches(row) ? 1 : 0;
    return n;
  }

  std::vector<store::PendingRow> sample_candidates(std::int64_t limit) override {
    std::vector<store::PendingRow> out;
    for (const auto& [key, row] : db_.pending) {
      if (static_cast<std::int64_t>(out.size()) >= limit) break;
      if (matches(row)) out.push_back({key, *row.email});
    }
    return out;
  }

  PolicyPreview preview_policies(std::int64_t candidates) override {
    PolicyPreview preview;
    preview.email = candidates;
    return preview;
  }

  store::DependentCounts count_dependents(
      const std::vector<store::DependentTable>& dependents) override {
    store::DependentCounts counts;
    counts.rows.assign(dependents.size(), 0);
    counts.refused.assign(dependents.size(), 0);
    return counts;
  }
  std::int64_t count_pending() override { return static_cast<std::int64_t>(db_.pending.size()); }
  bool users_table_empty() override { return db_.users_empty; }

  // ---- HistoryTable
  void record_run(const RunRecord& run) override {
    if (db_.history_fails) {
      throw DatabaseError(ErrorCause::kPrivilege, "42501", "permission denied for schema public");
    }
    db_.history.push_back(run);
  }

  std::vector<RunRecord> recent_runs(std::int64_t limit, const std::string& job) override {
    std::vector<RunRecord> out;
    for (auto run = db_.history.rbegin(); run != db_.history.rend(); ++run) {
      if (job.empty() || run->job == job) out.push_back(*run);
    }
    if (static_cast<std::int64_t>(out.size()) > limit) out.resize(static_cast<std::size_t>(limit));
    return out;
  }

  // ---- ArchiveTable: an archive that always exists and has every column.
  store::ArchiveFacts inspect_archive() override {
    store::ArchiveFacts facts;
    facts.exists = true;
    facts.name = "fake_archive";
    return facts;
  }
  void create() override {}
  void begin_cycle(const std::string& cycle_id) override { db_.archive_cycle = cycle_id; }
  std::int64_t purge(std::chrono::milliseconds, std::int64_t) override { return 0; }
  store::RestoreResult restore(const store::RestoreRequest&, bool) override {
    throw std::logic_error("the fake store does not restore");
  }

  // ---- InstanceLock
  bool try_lock() override {
    ++db_.lock_attempts;
    db_.lock_held = !db_.lock_held_elsewhere;
    return db_.lock_held;
  }
  void unlock() noexcept override { db_.lock_held = false; }
  bool keep_alive() override { return db_.lock_held; }
  std::chrono::milliseconds keep_alive_interval() const override { return {}; }
  std::string describe() const override { return "fake lock"; }

 private:
  bool matches(const FakeRow& row) const {
    return row.email && db_.user_emails.count(*row.email) > 0;
  }

  FakeDatabase& db_;
  std::optional<std::string> cursor_;
  std::optional<store::BatchResult> in_doubt_;
  store::CommitObserver* observer_ = nullptr;
};

}  // namespace batch_cleanup::testing
