// The part the SQL stores share: the configuration, the target and the names every role reads,
// the roles built the same way on each (the history table, the dry-run queries), and the roles
// handed out.
#pragma once

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "batch_cleanup/config.h"
#include "config/database_url.h"
#include "store/lease_holder.h"
#include "store/reasons.h"
#include "store/sql/dry_run_sql.h"
#include "store/sql/history_sql.h"
#include "store/sql/policy_spec.h"
#include "store/store.h"
#include "store/table_names.h"

namespace batch_cleanup::store {

class RoleStore : public Store {
 public:
  BatchStore& batches() override { return required(batches_, "batches() before configure()"); }
  DryRunQueries& dry_run() override { return required(dry_run_, "dry_run() before configure()"); }
  HistoryTable& history() override { return required(history_, "no history table"); }
  ArchiveTable& archive() override { return required(archive_, "no archive table"); }
  InstanceLock& instance_lock() override { return required(lock_, "no instance lock"); }

 protected:
  // `dialect` quotes the configured names.
  RoleStore(CleanupConfig config, config::DatabaseTarget target, const sql::Dialect& dialect)
      : config_(std::move(config)), target_(std::move(target)), names_(config_, dialect) {}

  // The history table, its statements run on `executor`.
  void build_history(sql::Executor& executor) {
    history_ = std::make_unique<sql::SqlHistoryTable>(executor, names_.history);
  }
  // The dry-run queries over `pending` (quoted) and the predicate configure() made.
  void build_dry_run(sql::Executor& executor, std::string pending,
                     const sql::PredicateSpec& predicate) {
    dry_run_ = std::make_unique<sql::SqlDryRunQueries>(
        executor, sql::CleanedTables{std::move(pending), names_.key, predicate});
  }
  // With --normalize-email, how many normalised emails several users rows share (preflight's
  // collision guard), when the facts found the users' email index.
  void count_collisions(sql::Executor& executor, const sql::PredicateSpec& email_predicate,
                        PreflightFacts& facts) const {
    if (facts.users_email_index.checked && rewrites_email(config_.normalize_email)) {
      facts.email_collisions = sql::email_collisions(executor, email_predicate, 1).count;
    }
  }
  // What the predicate reads: the users table (quoted by `dialect`) and the configured columns;
  // `zone`, the time zone of a creation column stored without one ("" when it carries its own).
  // `local_zone`: the zone a time column without one is read in ("" where the dialect reads
  // such times as UTC), applied to the expiry and --where columns the facts show without one.
  sql::PredicateColumns predicate_columns(const sql::Dialect& dialect, std::string zone,
                                          const PreflightFacts& facts,
                                          const std::string& local_zone) const {
    const auto zone_of = [&](TimeKind kind) {
      return kind == TimeKind::kWithoutZone || kind == TimeKind::kDate ? local_zone : std::string();
    };
    sql::PredicateColumns out{dialect.quote(names_.users),
                              names_.email,
                              names_.phone,
                              names_.created,
                              std::move(zone),
                              {},
                              {},
                              {}};
    out.expires = names_.expires;
    out.expires_zone = zone_of(facts.expires_kind);
    for (const auto& column : facts.condition_columns) {
      const bool time = column.kind != TimeKind::kNotATime && column.kind != TimeKind::kUnknown;
      out.condition_columns[column.name] = {dialect.quote(column.name), time, zone_of(column.kind)};
    }
    return out;
  }
  // Hands `lock` out as instance_lock().
  template <typename Lock>
  void install_lock(std::unique_ptr<Lock> lock) {
    if constexpr (std::is_base_of_v<LeaseLock, Lock>) lease_ = lock.get();
    lock_ = std::move(lock);
  }
  // What every batch transaction runs first: the lease renewed (LeaseLock::prove_held()).
  std::function<void()> lease_fence() {
    return [this] { lease_->prove_held(); };
  }

  CleanupConfig config_;
  config::DatabaseTarget target_;
  TableNames names_;

  std::unique_ptr<BatchStore> batches_;     // built by configure()
  std::unique_ptr<DryRunQueries> dry_run_;  // built by configure()
  std::unique_ptr<HistoryTable> history_;
  std::unique_ptr<ArchiveTable> archive_;
  std::unique_ptr<InstanceLock> lock_;

 private:
  LeaseLock* lease_ = nullptr;  // lock_, when it is a lease

  template <typename Role>
  static Role& required(const std::unique_ptr<Role>& role, const char* missing) {
    if (!role) throw std::logic_error(missing);
    return *role;
  }
};

}  // namespace batch_cleanup::store
