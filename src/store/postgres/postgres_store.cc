#include "store/postgres/postgres_store.h"

#include "batch_cleanup/errors.h"
#include "store/postgres/pg_archive.h"
#include "store/postgres/pg_batches.h"
#include "store/postgres/pg_catalog.h"
#include "store/postgres/pg_dialect.h"
#include "store/postgres/pg_executor.h"
#include "store/postgres/pg_instance_lock.h"
#include "store/reasons.h"
#include "store/role_store.h"
#include "store/sql/dry_run_sql.h"
#include "store/sql/history_sql.h"
#include "store/sql/policy_spec.h"

namespace batch_cleanup::store::postgres {
namespace {

class PostgresStore final : public RoleStore {
 public:
  PostgresStore(CleanupConfig config, config::DatabaseTarget target)
      : RoleStore(std::move(config), std::move(target), pg_dialect()),
        session_(target_.password),
        executor_(session_) {
    build_history(executor_);
    auto archive = std::make_unique<PgArchiveTable>(session_, executor_, config_, names_, catalog_,
                                                    setup_.archive_cycle);
    pg_archive_ = archive.get();
    archive_ = std::move(archive);
    install_lock(std::make_unique<PgInstanceLock>(session_, config_, catalog_.qualified_pending));
  }

  std::string backend_name() const override { return kBackendName; }

  void connect() override {
    session_.set_limits(limits(config_.statement_timeout, config_.lock_timeout));
    session_.connect(target_.conninfo, config_.connect_timeout);
    // Known once connected; nothing is set on the session itself.
    auto limits = session_.limits();
    limits.check_client_connection = session_.server_version() >= 140000;
    session_.set_limits(limits);
  }

  PreflightFacts inspect() override {
    catalog_ = inspect_catalog(session_, names_, config_);
    count_collisions(executor_, sql::email_predicate(config_, columns()), catalog_.facts);
    return catalog_.facts;
  }

  void configure(const BatchPlan& plan) override {
    const sql::PredicateSpec spec = sql::policy_predicate(executor_, config_, columns());
    // Key batches walk the email's unique index where the plan says so.
    const bool by_email = plan.keyset_by_email;
    setup_.tables = {pg_dialect().quote(names_.pending),
                     names_.key,
                     names_.email,
                     catalog_.key_type,
                     spec,
                     plan.archive ? PgArchiveTable::quoted_name(config_) : "",
                     catalog_.pending_columns,
                     by_email ? names_.email : names_.key,
                     by_email ? catalog_.email_type : catalog_.key_type,
                     {}};
    if (plan.archive) setup_.tables.cascaded = pg_archive_->cascaded_archives();
    setup_.plan = plan;
    setup_.lock_timeout = std::to_string(plan.lock_timeout.count()) + "ms";
    session_.set_limits(limits(plan.statement_timeout, plan.lock_timeout));
    setup_.single_reason = single_reason(config_);
    setup_.fence = lease_fence();
    batches_ = plan.addressing == Addressing::kPhysical
                   ? make_physical_batches(session_, executor_, setup_, catalog_.pending_oid)
                   : make_key_batches(session_, executor_, setup_, catalog_.pending_oid);
    build_dry_run(executor_, pg_dialect().quote(names_.pending), spec);
  }

  void cancel() noexcept override { session_.cancel(); }

 private:
  PgArchiveTable* pg_archive_ = nullptr;  // archive_, for the cascaded tables' archives

  TransactionLimits limits(std::chrono::milliseconds statement_timeout,
                           std::chrono::milliseconds lock_timeout) const {
    TransactionLimits out;
    out.statement_timeout = statement_timeout;
    out.lock_timeout = lock_timeout;
    out.idle_in_transaction_timeout =
        std::max<std::chrono::milliseconds>(std::chrono::minutes(1), 4 * statement_timeout);
    out.check_client_connection = session_.server_version() >= 140000;
    out.read_only = config_.dry_run;
    return out;
  }

  sql::PredicateColumns columns() const {
    return predicate_columns(pg_dialect(), catalog_.created_zone, catalog_.facts,
                             config_.created_time_zone);
  }

  PgSession session_;
  PgExecutor executor_;
  PgCatalog catalog_;
  PgBatchSetup setup_;
};

}  // namespace

std::unique_ptr<Store> make_postgres_store(const CleanupConfig& config,
                                           const config::DatabaseTarget& target) {
  return std::make_unique<PostgresStore>(config, target);
}

}  // namespace batch_cleanup::store::postgres
