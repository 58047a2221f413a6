#include "store/lease_holder.h"

#include <unistd.h>

#include <random>
#include <stdexcept>

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

std::string LeaseLock::lease_token(long long epoch) const {
  return lease_.holder + " " + std::to_string(epoch);
}

long long LeaseLock::follow_token(const std::string& token) {
  const auto space = token.rfind(' ');
  if (space == std::string::npos) throw std::invalid_argument("not a lease token: " + token);
  lease_.holder = token.substr(0, space);
  return std::stoll(token.substr(space + 1));
}

}  // namespace batch_cleanup::store
