// Who holds a lease: this instance, as both SQL stores' lease rows name it.
#pragma once

#include <string>

namespace batch_cleanup::store {

// "host:pid:random", made once per lock object.
std::string lease_holder_id();

}  // namespace batch_cleanup::store
