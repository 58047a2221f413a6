#include "store/postgres/postgres_store.h"

#include "batch_cleanup/errors.h"
#include "store/postgres/pg_advisory_lock.h"
#include "store/postgres/pg_archive.h"
#include "store/postgres/pg_batches.h"
#include "store/postgres/pg_catalog.h"
#include "store/postgres/pg_executor.h"
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
      : config_(std::move(config)),
        target_(std::move(target)),
        names_(config_),
        session_(target_.password),
        executor_(session_) {
    history_ = std::make_unique<sql::SqlHistoryTable>(executor_, names_.history);
    archive_ = std::make_unique<PgArchiveTable>(session_, executor_, config_, names_, catalog_,
                                                setup_, [this] {
                                                  if (pg_batches_ != nullptr) {
                                                    pg_batches_->invalidate();
                                                  }
                                                });
    lock_ = std::make_unique<PgAdvisoryLock>(session_, catalog_.qualified_pending);
  }

  std::string backend_name() const override { return "postgresql"; }

  void connect() override {
    session_.connect(target_.conninfo, config_.connect_timeout);
    session_.exec(
        "SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false), "
        "set_config('idle_in_transaction_session_timeout', $3, false)",
        {lock_timeout(), std::to_string(config_.statement_timeout.count()) + "ms",
         std::to_string(std::max<long long>(60'000, 4 * config_.statement_timeout.count())) +
             "ms"});
    if (session_.server_version() >= 140000) {
      // A backend whose client died (kill -9) stops its statement within a second and releases
      // its locks, instead of running on until the statement ends.
      session_.exec("SELECT set_config('client_connection_check_interval', '1s', false)");
    }
    if (config_.dry_run) {
      // Belt and braces: a dry run's session cannot write even by mistake.
      session_.exec("SET default_transaction_read_only = on");
    }
  }

  PreflightFacts inspect() override {
    catalog_ = inspect_catalog(session_, names_, config_);
    auto& facts = catalog_.facts;
    if (facts.users_email_index.checked && config_.normalize_email != EmailNormalization::kNone) {
      facts.email_collisions =
          sql::email_collisions(executor_, sql::email_predicate(config_, columns()), 1).count;
    }
    return facts;
  }

  void configure(const BatchPlan& plan) override {
    const sql::PredicateSpec spec = sql::policy_predicate(executor_, config_, columns());
    setup_.tables = {names_.pending.quoted(), names_.key, names_.email, catalog_.key_type, spec, "",
                     catalog_.pending_columns};
    setup_.plan = plan;
    setup_.lock_timeout = lock_timeout();
    setup_.single_reason = single_reason(config_);
    auto batches = plan.addressing == Addressing::kPhysical
                       ? make_physical_batches(session_, executor_, setup_, catalog_.pending_oid)
                       : make_key_batches(session_, executor_, setup_);
    pg_batches_ = batches.get();
    batches_ = std::move(batches);
    dry_run_ = std::make_unique<sql::SqlDryRunQueries>(
        executor_, sql::CleanedTables{names_.pending.quoted(), names_.key, spec});
  }

  void cancel() noexcept override { session_.cancel(); }

 private:
  std::string lock_timeout() const { return std::to_string(config_.lock_timeout.count()) + "ms"; }

  sql::PredicateColumns columns() const {
    return {names_.users.quoted(), names_.email, names_.phone, names_.created,
            catalog_.created_zone};
  }

  CleanupConfig config_;
  config::DatabaseTarget target_;
  TableNames names_;
  PgSession session_;
  PgExecutor executor_;
  PgCatalog catalog_;
  PgBatchSetup setup_;
  PgBatches* pg_batches_ = nullptr;  // batches_, for invalidate()
};

}  // namespace

std::unique_ptr<Store> make_postgres_store(const CleanupConfig& config,
                                           const config::DatabaseTarget& target) {
  return std::make_unique<PostgresStore>(config, target);
}

}  // namespace batch_cleanup::store::postgres
