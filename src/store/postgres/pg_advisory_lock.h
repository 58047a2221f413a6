// The one-active-instance lock on PostgreSQL: a session-level advisory lock keyed by the
// pending table's qualified name. It dies with the session.
#pragma once

#include <string>

#include "store/instance_lock.h"
#include "store/postgres/pg_session.h"

namespace batch_cleanup::store::postgres {

class PgAdvisoryLock final : public InstanceLock {
 public:
  // `name` is read when the lock is taken (the store fills it in inspect()).
  PgAdvisoryLock(PgSession& session, const std::string& name) : session_(session), name_(name) {}
  bool try_lock() override;
  void unlock() noexcept override;

 private:
  PgSession& session_;
  const std::string& name_;
  bool held_ = false;
};

}  // namespace batch_cleanup::store::postgres
