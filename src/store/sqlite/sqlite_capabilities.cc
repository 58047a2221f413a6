#include "store/sqlite/sqlite_capabilities.h"

namespace batch_cleanup::store::sqlite {

Capabilities sqlite_capabilities() {
  Capabilities capabilities;
  capabilities.backend = kBackendName;
  capabilities.product = "SQLite";
  capabilities.physical_order = PhysicalOrder::kRowid;
  // One writer at a time and no row locks: nothing to skip, nothing to split among workers.
  capabilities.skip_locked = false;
  capabilities.delete_returning = true;  // SQLite 3.35 and later (Debian 12: 3.40)
  capabilities.savepoints = true;
  capabilities.lock_mechanisms = {LockMechanism::kLockFile};
  return capabilities;
}

}  // namespace batch_cleanup::store::sqlite
