// What the PostgreSQL store can do (store/facts.h Capabilities), by server version.
#pragma once

#include "store/facts.h"

namespace batch_cleanup::store::postgres {

// The backend's label (Capabilities::backend).
inline constexpr const char* kBackendName = "postgresql";
// The oldest server batch_cleanup runs against, and the first with Tid Range Scan.
inline constexpr int kOldestServer = 120000;
inline constexpr int kPhysicalBatchesServer = 140000;

// What PostgreSQL at `server_version_num` can do.
Capabilities postgres_capabilities(int server_version_num);

}  // namespace batch_cleanup::store::postgres
