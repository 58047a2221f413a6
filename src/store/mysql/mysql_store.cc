#include "store/mysql/mysql_store.h"

#include <fmt/format.h>

#include "batch_cleanup/errors.h"
#include "store/mysql/mysql_batches.h"
#include "store/mysql/mysql_catalog.h"
#include "store/mysql/mysql_dialect.h"
#include "store/mysql/mysql_instance_lock.h"
#include "store/mysql/mysql_replicas.h"
#include "store/mysql/mysql_session.h"
#include "store/reasons.h"
#include "store/role_store.h"
#include "store/sql/dry_run_sql.h"
#include "store/sql/history_sql.h"
#include "store/sql/policy_spec.h"

namespace batch_cleanup::store::mysql {
namespace {

constexpr const char* kNotYet = " is not supported on MySQL/MariaDB yet";

// The archive table (and so restore) is not built yet: every use is refused.
class RefusedArchive final : public ArchiveTable {
 public:
  ArchiveFacts inspect_archive() override { refuse(); }
  void create() override { refuse(); }
  void begin_cycle(const std::string&) override { refuse(); }
  std::int64_t purge(std::chrono::milliseconds, std::int64_t) override { refuse(); }
  RestoreResult restore(const RestoreRequest&, bool) override { refuse(); }

 private:
  [[noreturn]] static void refuse() {
    throw ConfigError(std::string("the archive table (--archive-table, restore)") + kNotYet);
  }
};

void refuse_what_is_not_built(const CleanupConfig& config) {
  const auto refuse = [](const std::string& what, const std::string& hint) {
    throw ConfigError(what + kNotYet + ". HINT: " + hint);
  };
  if (!config.archive_table.empty()) refuse("--archive-table", "run without it");
  if (!config.archive_file.empty()) refuse("--archive-file", "run without it");
  if (config.workers > 1) {
    refuse(fmt::format("--workers {}", config.workers), "use --workers 1 (the default)");
  }
  // Replicas named by --replica-url are watched (mysql_replicas.h); bytes of lag are not.
  if ((config.max_replication_lag.count() > 0 && config.replica_urls.empty()) ||
      config.max_replication_lag_bytes > 0) {
    refuse("--max-replication-lag (replica and Galera awareness)",
           "run without it, and pace the batches with --sleep or --max-rate");
  }
  if (config.normalize_email != EmailNormalization::kNone) {
    refuse("--normalize-email other than none",
           "use --normalize-email none: emails are compared byte for byte");
  }
}

class MysqlStore final : public RoleStore {
 public:
  MysqlStore(CleanupConfig config, config::DatabaseTarget target)
      : RoleStore(std::move(config), std::move(target), mysql_dialect()),
        session_(target_.mysql),
        executor_(session_) {
    build_history(executor_);
    archive_ = std::make_unique<RefusedArchive>();
    auto lock = std::make_unique<MysqlInstanceLock>(session_, config_, catalog_.qualified);
    lock_facts_ = lock.get();
    install_lock(std::move(lock));
  }

  std::string backend_name() const override { return kBackendName; }

  void connect() override {
    // The client waits for a silent server a little longer than any statement may run.
    session_.connect(config_.connect_timeout, config_.statement_timeout + std::chrono::seconds(30));
  }

  PreflightFacts inspect() override {
    catalog_ = inspect_catalog(session_, names_, config_);
    return catalog_.facts;
  }

  void configure(const BatchPlan& plan) override {
    const sql::PredicateSpec spec = sql::policy_predicate(executor_, config_, columns());
    MysqlBatchSetup setup;
    setup.tables = {mysql_dialect().quote(names_.pending), names_.key, names_.email, spec,
                    catalog_.key_integer};
    setup.limits = {plan.statement_timeout, plan.lock_timeout};
    setup.single_reason = single_reason(config_);
    setup.fence = lease_fence();
    setup.commit_outcome = [lock = lock_facts_] { return lock->batch_outcome(); };
    setup.skip_locked = plan.skip_locked;
    setup.why = plan.skip_locked
                    ? "FOR UPDATE SKIP LOCKED on the careful path (" + session_.binlog() +
                          ": safe), under READ COMMITTED"
                    : "no SKIP LOCKED (" + session_.binlog() +
                          ": unsafe for statement-based replication, and InnoDB refuses to log "
                          "writes made under READ COMMITTED), so batches run under REPEATABLE "
                          "READ without a range DELETE: the window's rows are read without locks "
                          "and deleted by key, a held row skipped at once; the users rows a "
                          "DELETE compares with stay share-locked until its batch commits";
    if (!config_.replica_urls.empty() && !replicas_) {
      replicas_ = std::make_unique<MysqlReplicas>(config_.replica_urls, config_.connect_timeout);
    }
    setup.replicas = replicas_.get();
    batches_ = std::make_unique<MysqlBatches>(session_, executor_, std::move(setup));
    build_dry_run(executor_, mysql_dialect().quote(names_.pending), spec);
  }

  void cancel() noexcept override { session_.cancel(); }

 private:
  sql::PredicateColumns columns() const {
    return predicate_columns(mysql_dialect(), "", catalog_.facts, "");
  }

  MysqlSession session_;
  MysqlExecutor executor_;
  MysqlCatalog catalog_;
  MysqlInstanceLock* lock_facts_ = nullptr;  // lock_
  std::unique_ptr<MysqlReplicas> replicas_;  // --replica-url
};

}  // namespace

std::unique_ptr<Store> make_mysql_store(const CleanupConfig& config,
                                        const config::DatabaseTarget& target) {
  refuse_what_is_not_built(config);
  return std::make_unique<MysqlStore>(config, target);
}

}  // namespace batch_cleanup::store::mysql
