// What the SQLite store can do (store/facts.h Capabilities).
#pragma once

#include "store/facts.h"

namespace batch_cleanup::store::sqlite {

// The backend's label (Capabilities::backend).
inline constexpr const char* kBackendName = "sqlite";

// What SQLite can do.
Capabilities sqlite_capabilities();

}  // namespace batch_cleanup::store::sqlite
