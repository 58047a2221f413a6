#include "store/sqlite/sqlite_store.h"

#include <sstream>

#include "store/reasons.h"
#include "store/role_store.h"
#include "store/sql/dry_run_sql.h"
#include "store/sql/history_sql.h"
#include "store/sql/policy_spec.h"
#include "store/sqlite/sqlite_archive.h"
#include "store/sqlite/sqlite_batches.h"
#include "store/sqlite/sqlite_catalog.h"
#include "store/sqlite/sqlite_dialect.h"
#include "store/sqlite/sqlite_executor.h"
#include "store/sqlite/sqlite_lock_file.h"
#include "util/process_identity.h"

namespace batch_cleanup::store::sqlite {
namespace {

// The busy timeout never goes below this: a short write by the application must not fail a batch.
constexpr std::chrono::milliseconds kMinBusyTimeout{5000};

// The lock file: an exclusive flock() on "<database file>.lock". The file says who holds it and
// when the last completed cycle started ("key=value" lines), for messages and the schedule.
class SqliteInstanceLock final : public InstanceLock {
 public:
  explicit SqliteInstanceLock(std::string path) : file_(std::move(path)) {}
  bool try_lock() override {
    if (!file_.try_lock()) return false;
    last_cycle_ = read_facts().last_cycle;
    write_contents();
    return true;
  }
  void unlock() noexcept override { file_.unlock(); }
  // The flock belongs to this process: it cannot be lost, and needs no renewal.
  bool keep_alive() override { return file_.held(); }
  std::chrono::milliseconds keep_alive_interval() const override { return {}; }
  std::string describe() const override { return "lock file " + file_.path(); }
  // A flock dies with its process: a holder is never left to prove dead.
  LeaseFacts facts() override {
    LeaseFacts facts = read_facts();
    facts.expired = !file_.held() && !file_.held_elsewhere();
    if (facts.last_cycle) last_cycle_ = facts.last_cycle;
    return facts;
  }
  void record_cycle(std::chrono::system_clock::time_point started) override {
    last_cycle_ = started;
    write_contents();
  }
  std::optional<std::chrono::system_clock::time_point> last_cycle() const override {
    return last_cycle_;
  }

 private:
  LeaseFacts read_facts() const {
    LeaseFacts facts;
    std::istringstream lines(file_.read());
    std::string line;
    while (std::getline(lines, line)) {
      const auto equals = line.find('=');
      if (equals == std::string::npos) continue;
      const std::string key = line.substr(0, equals);
      const std::string value = line.substr(equals + 1);
      try {
        if (key == "holder") facts.holder = value;
        if (key == "pid") facts.process.pid = std::stoll(value);
        if (key == "last_cycle_us" && !value.empty()) {
          facts.last_cycle = std::chrono::system_clock::time_point(
              std::chrono::duration_cast<std::chrono::system_clock::duration>(
                  std::chrono::microseconds(std::stoll(value))));
        }
      } catch (const std::exception&) {
        // a torn or foreign file: what it says is for messages only
      }
    }
    facts.exists = !facts.holder.empty();
    return facts;
  }
  void write_contents() const noexcept {
    const auto& self = util::this_process();
    std::string text = "holder=" + self.host + ":" + std::to_string(self.pid) +
                       "\npid=" + std::to_string(self.pid) + "\n";
    if (last_cycle_) {
      text += "last_cycle_us=" +
              std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
                                 last_cycle_->time_since_epoch())
                                 .count()) +
              "\n";
    }
    file_.write(text);
  }

  LockFile file_;
  std::optional<std::chrono::system_clock::time_point> last_cycle_;
};

class SqliteStore final : public RoleStore {
 public:
  SqliteStore(CleanupConfig config, config::DatabaseTarget target)
      : RoleStore(std::move(config), std::move(target), sqlite_dialect()),
        executor_(connection_, config_.min_age, config_.expire_after) {
    build_history(executor_);
    auto archive =
        std::make_unique<SqliteArchiveTable>(connection_, executor_, config_, catalog_, predicate_);
    sqlite_archive_ = archive.get();
    archive_ = std::move(archive);
    install_lock(std::make_unique<SqliteInstanceLock>(target_.sqlite_path + ".lock"));
  }

  std::string backend_name() const override { return kBackendName; }

  void connect() override {
    sqlite_archive_->forget_trigger();  // temp objects live and die with the connection
    connection_.begin_operation();
    connection_.open(target_.sqlite_path, config_.dry_run,
                     std::max<std::chrono::milliseconds>(config_.lock_timeout, kMinBusyTimeout),
                     config_.statement_timeout, config_.sqlite_cache_mb * 1024);
  }

  PreflightFacts inspect() override {
    connection_.begin_operation();
    catalog_ = inspect_catalog(connection_, names_, config_);
    predicate_ = sql::email_predicate(config_, columns());
    count_collisions(executor_, predicate_, catalog_.facts);
    return catalog_.facts;
  }

  void configure(const BatchPlan& plan) override {
    const sql::PredicateSpec spec = sql::policy_predicate(executor_, config_, columns());
    predicate_ = spec;
    const bool key_mode = plan.addressing == Addressing::kKey || catalog_.rowid.empty();
    auto setup = batch_setup(config_, catalog_, names_, spec, key_mode);
    setup.dependents = plan.dependents;
    batches_ = std::make_unique<SqliteBatches>(connection_, executor_, std::move(setup));
    build_dry_run(executor_, catalog_.pending.quoted(), spec);
  }

  void cancel() noexcept override { connection_.cancel(); }

 private:
  sql::PredicateColumns columns() const { return sqlite::predicate_columns(catalog_, names_); }

  SqliteConnection connection_;
  SqliteExecutor executor_;
  SqliteCatalog catalog_;
  sql::PredicateSpec predicate_;
  SqliteArchiveTable* sqlite_archive_ = nullptr;  // archive_, for forget_trigger()
};

}  // namespace

sql::PredicateColumns predicate_columns(const SqliteCatalog& catalog, const TableNames& names) {
  // SQLite resolves the users table's database in inspect(): statements name it.
  sql::PredicateColumns out{
      catalog.users.name.empty() ? sqlite_dialect().quote(names.users) : catalog.users.quoted(),
      names.email,
      names.phone,
      names.created,
      "",
      {},
      {},
      {}};
  out.expires = names.expires;
  for (const auto& column : catalog.facts.condition_columns) {
    out.condition_columns[column.name] = {sqlite_dialect().quote(column.name),
                                          column.kind == TimeKind::kDynamic, ""};
  }
  return out;
}

SqliteBatchSetup batch_setup(const CleanupConfig& config, const SqliteCatalog& catalog,
                             const TableNames& names, const sql::PredicateSpec& predicate,
                             bool key_mode) {
  SqliteBatchSetup setup;
  setup.pending = catalog.pending.quoted();
  setup.pending_name = sqlite_dialect().quote(catalog.pending.name);
  setup.key = names.key;
  setup.email = names.email;
  setup.locator_column = key_mode ? names.key : sqlite_dialect().quote(catalog.rowid);
  setup.key_mode = key_mode;
  setup.predicate = predicate;
  setup.pending_columns = catalog.pending.columns;
  setup.single_reason = single_reason(config);
  return setup;
}

std::unique_ptr<Store> make_sqlite_store(const CleanupConfig& config,
                                         const config::DatabaseTarget& target) {
  return std::make_unique<SqliteStore>(config, target);
}

}  // namespace batch_cleanup::store::sqlite
