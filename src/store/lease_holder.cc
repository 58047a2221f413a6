#include "store/lease_holder.h"

#include <unistd.h>

#include <random>

#include "batch_cleanup/history.h"

namespace batch_cleanup::store {

std::string lease_holder_id() {
  std::random_device random;
  return host_name() + ":" + std::to_string(::getpid()) + ":" + std::to_string(random() % 1000000);
}

Lease::Lease(const CleanupConfig& config, const std::string& pending_target)
    : table(config::parse_table_name(config.lease_table, "lease table")),
      ttl(config.lease_ttl),
      target(pending_target),
      holder(lease_holder_id()) {}

}  // namespace batch_cleanup::store
