// Fuzzes identifier validation and the dialects' quoting: whatever is accepted is safe to splice
// into SQL.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "batch_cleanup/errors.h"
#include "config/identifier.h"
#include "store/postgres/pg_dialect.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto name = batch_cleanup::config::parse_table_name(text, "table");
    const std::string quoted = batch_cleanup::store::postgres::pg_dialect().quote(name);
    // Accepted names hold no quote, so the quoted form has exactly 2 (or 4 with a schema).
    std::size_t quotes = 0;
    for (const char c : quoted) quotes += c == '"' ? 1 : 0;
    if (quotes != (name.schema.empty() ? 2u : 4u)) std::abort();
    if (name.name.empty() || name.name.size() > 63) std::abort();
  } catch (const batch_cleanup::ConfigError&) {
  }
  try {
    const auto column = batch_cleanup::config::validate_identifier(text, "column");
    if (column.find_first_of("\"'; \\\0", 0, 6) != std::string::npos) std::abort();
  } catch (const batch_cleanup::ConfigError&) {
  }
  return 0;
}
