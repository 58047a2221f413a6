#include "store/lease_holder.h"

#include <unistd.h>

#include <random>

#include "batch_cleanup/history.h"

namespace batch_cleanup::store {

std::string lease_holder_id() {
  std::random_device random;
  return host_name() + ":" + std::to_string(::getpid()) + ":" + std::to_string(random() % 1000000);
}

}  // namespace batch_cleanup::store
