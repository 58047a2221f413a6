#include "store/postgres/pg_capabilities.h"

namespace batch_cleanup::store::postgres {

Capabilities postgres_capabilities(int server_version_num) {
  Capabilities capabilities;
  capabilities.backend = kBackendName;
  capabilities.product = "PostgreSQL";
  if (server_version_num < kOldestServer) capabilities.oldest_supported = "PostgreSQL 12";
  capabilities.physical_order = PhysicalOrder::kHeapPages;
  capabilities.physical_needs = "PostgreSQL 14 or later (Tid Range Scan)";
  capabilities.email_ranges = true;
  capabilities.email_keyset = true;
  capabilities.skip_locked = true;
  capabilities.delete_returning = true;
  capabilities.savepoints = true;
  capabilities.transaction_scoped_settings = true;
  capabilities.time_zones = true;
  capabilities.parallel_slices = true;
  capabilities.functions_keep_collation = true;
  capabilities.lock_mechanisms = {LockMechanism::kLeaseTable, LockMechanism::kAdvisoryLock};
  return capabilities;
}

}  // namespace batch_cleanup::store::postgres
