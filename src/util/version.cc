#include "util/version.h"

namespace batch_cleanup::util {

const char* version() { return BATCH_CLEANUP_VERSION; }

}  // namespace batch_cleanup::util
