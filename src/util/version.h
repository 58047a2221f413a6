// The version of batch_cleanup (the CMake project's VERSION).
#pragma once

namespace batch_cleanup::util {

// "0.1.0"
const char* version();

}  // namespace batch_cleanup::util
