#include "store/mysql/mysql_store.h"

#include "batch_cleanup/errors.h"
#include "store/mysql/mysql_archive.h"
#include "store/mysql/mysql_batches.h"
#include "store/mysql/mysql_catalog.h"
#include "store/mysql/mysql_dialect.h"
#include "store/mysql/mysql_galera.h"
#include "store/mysql/mysql_instance_lock.h"
#include "store/mysql/mysql_replicas.h"
#include "store/mysql/mysql_session.h"
#include "store/reasons.h"
#include "store/role_store.h"
#include "store/sql/dry_run_sql.h"
#include "store/sql/history_sql.h"
#include "store/sql/policy_spec.h"
#include "store/sql/predicate.h"

namespace batch_cleanup::store::mysql {
namespace {

// A column of bytes: written to the archive file as hex (JSON has no bytes).
bool is_bytes(const std::string& data_type) {
  return data_type.find("binary") != std::string::npos ||
         data_type.find("blob") != std::string::npos || data_type == "bit";
}

class MysqlStore final : public RoleStore {
 public:
  MysqlStore(CleanupConfig config, config::DatabaseTarget target)
      : RoleStore(std::move(config), std::move(target), mysql_dialect()),
        session_(target_.mysql),
        executor_(session_),
        flow_control_(session_) {
    build_history(executor_);
    archive_ = std::make_unique<MysqlArchiveTable>(session_, executor_, config_, names_, catalog_,
                                                   archive_cycle_);
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
    catalog_.facts.cluster = inspect_cluster(session_, catalog_.schema, names_.pending.name);
    refuse_unwatched_replication_lag(config_, catalog_.facts.cluster);
    auto& facts = catalog_.facts;
    if (config_.match_email && facts.users_email.exists && facts.pending_email.exists) {
      // What the batches write beyond a plain = (the BINARY comparison; none with collation).
      const auto side = [&](const char* row) {
        return normalized_email(config_.normalize_email, std::string(row) + "." + names_.email);
      };
      const std::string equality =
          sql::email_equal(mysql_dialect(), config_.normalize_email, side("u"), side("p"));
      if (equality != side("u") + " = " + side("p")) facts.email_equality = equality;
      count_collisions(executor_, sql::email_predicate(config_, columns()), facts);
    }
    return facts;
  }

  void configure(const BatchPlan& plan) override {
    const sql::PredicateSpec spec = sql::policy_predicate(executor_, config_, columns());
    MysqlBatchSetup setup;
    setup.tables.pending = mysql_dialect().quote(names_.pending);
    setup.tables.key = names_.key;
    setup.tables.email = names_.email;
    setup.tables.predicate = spec;
    setup.tables.key_integer = catalog_.key_integer;
    setup.limits = {plan.statement_timeout, plan.lock_timeout};
    setup.single_reason = single_reason(config_);
    setup.fence = lease_fence();
    setup.dependents = plan.dependents;
    const bool archive_file = !config_.archive_file.empty() && !config_.dry_run;
    if (plan.archive || archive_file) {
      refuse_cascades_with_archive(session_, catalog_, names_,
                                   plan.archive ? "--archive-table" : "--archive-file");
    }
    if (plan.archive) setup.tables.archive = MysqlArchiveTable::quoted_name(config_);
    for (const auto& column : catalog_.pending_columns) {
      const std::string quoted = mysql_dialect().quote(column.name);
      setup.tables.columns.push_back(quoted);
      setup.tables.json_fields.emplace_back(
          column.name,
          (is_bytes(column.data_type) ? "HEX(" : "(") + setup.tables.pending + "." + quoted + ")");
    }
    setup.archive_cycle = &archive_cycle_;
    setup.archive_named = !config_.archive_table.empty();
    setup.max_rows = plan.max_batch_rows;
    const bool watch =
        config_.max_replication_lag.count() > 0 || config_.max_replication_lag_bytes > 0;
    if (catalog_.facts.cluster.galera && watch) {
      setup.replication_lag = [this] { return flow_control_.read(); };
    }
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
  std::string archive_cycle_;  // the cycle batches archive under (MysqlArchiveTable's)
  GaleraFlowControl flow_control_;
  MysqlInstanceLock* lock_facts_ = nullptr;  // lock_
  std::unique_ptr<MysqlReplicas> replicas_;  // --replica-url
};

}  // namespace

std::unique_ptr<Store> make_mysql_store(const CleanupConfig& config,
                                        const config::DatabaseTarget& target) {
  return std::make_unique<MysqlStore>(config, target);
}

}  // namespace batch_cleanup::store::mysql
