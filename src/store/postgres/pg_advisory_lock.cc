#include "store/postgres/pg_advisory_lock.h"

namespace batch_cleanup::store::postgres {
namespace {

// First key of batch_cleanup's advisory locks ("bc_1"), so they do not collide with the
// application's single-key locks; the second key is hashtext() of "batch_cleanup:" and the
// pending table's qualified name.
constexpr const char* kLockClass = "1650679601";

}  // namespace

bool PgAdvisoryLock::try_lock() {
  held_ = session_
              .exec(std::string("SELECT pg_try_advisory_lock(") + kLockClass + ", hashtext($1))",
                    {"batch_cleanup:" + name_})
              .text(0, 0) == "t";
  return held_;
}

void PgAdvisoryLock::unlock() noexcept {
  if (!held_) return;
  held_ = false;
  try {
    if (session_.connected()) {
      session_.exec(std::string("SELECT pg_advisory_unlock(") + kLockClass + ", hashtext($1))",
                    {"batch_cleanup:" + name_});
    }
  } catch (...) {
    // The session is broken: the server releases the lock with it.
  }
}

}  // namespace batch_cleanup::store::postgres
