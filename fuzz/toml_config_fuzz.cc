// Fuzzes the configuration file: TOML parsing (toml++), then the layering of every job's values
// onto the option table (resolve_config), which converts and validates them like flags.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

#include "batch_cleanup/errors.h"
#include "config/config_file.h"
#include "config/resolve_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    batch_cleanup::config::parse_config_file(text, "fuzz.toml");
  } catch (const batch_cleanup::ConfigError&) {
    return 0;
  }
  // It parses: resolve it as `--config FILE` would.
  static const std::string path = "/tmp/bc_toml_fuzz_" + std::to_string(::getpid()) + ".toml";
  std::ofstream(path, std::ios::trunc) << text;
  try {
    batch_cleanup::config::resolve_config({}, path);
  } catch (const batch_cleanup::ConfigError&) {
  }
  return 0;
}
