// A store: one connection to one database for one cleanup job, and the roles the engine and the
// subcommands use through it. SQL lives only inside the implementations (store/postgres,
// store/sqlite, and the statements both share in store/sql); tests add an in-memory fake.
//
// Errors: implementations throw ConfigError for a configuration the database cannot serve (a
// missing SQLite file, a malformed URL) and DatabaseError (with its ErrorKind) for everything
// the database reports. Nothing else.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "batch_cleanup/config.h"
#include "config/database_url.h"
#include "store/archive_table.h"
#include "store/batch_store.h"
#include "store/dry_run_queries.h"
#include "store/facts.h"
#include "store/history_table.h"
#include "store/instance_lock.h"

namespace batch_cleanup::store {

class Store {
 public:
  virtual ~Store() = default;

  // The backend's label in reports, metrics, history and /status (Capabilities::backend).
  virtual std::string backend_name() const = 0;

  // Opens the connection (closing any previous one). Throws DatabaseError(kRetryable) when the
  // server cannot be reached, ConfigError when the configuration is wrong.
  virtual void connect() = 0;

  // Looks up the configured tables, columns, privileges, indexes and server features.
  virtual PreflightFacts inspect() = 0;

  // Prepares the batches the engine decided on. After inspect().
  virtual void configure(const BatchPlan& plan) = 0;

  // The roles. batches() and dry_run() after configure(); archive() after inspect(); history()
  // and instance_lock() after connect().
  virtual BatchStore& batches() = 0;
  virtual DryRunQueries& dry_run() = 0;
  virtual HistoryTable& history() = 0;
  virtual ArchiveTable& archive() = 0;
  virtual InstanceLock& instance_lock() = 0;

  // Interrupts the statement in flight, from any thread. The statement fails with a retryable
  // DatabaseError and its transaction rolls back.
  virtual void cancel() noexcept = 0;
};

// Creates the store for config.database_url (or DATABASE_URL). Throws ConfigError.
std::unique_ptr<Store> make_store(const CleanupConfig& config);

// The label of the backend `target` names, as its store's backend_name() gives it.
std::string backend_name(const config::DatabaseTarget& target);

// The file whose lock keeps one instance active, where the backend's instance lock is a lock
// file (LockMechanism::kLockFile: one per database file, whatever the tables); none where the
// lock is per target on a server.
std::optional<std::string> lock_file_of(const config::DatabaseTarget& target);

}  // namespace batch_cleanup::store
