// Fuzzes the database URL parser and the password redaction.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "batch_cleanup/errors.h"
#include "config/database_url.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string url(reinterpret_cast<const char*>(data), size);
  const std::string password = batch_cleanup::config::extract_password(url);
  (void)batch_cleanup::config::redact_database_url(url);
  try {
    const auto target = batch_cleanup::config::parse_database_url(url);
    // The printable form of a PostgreSQL URL never holds its password (SQLite has none). A
    // password with a '*' can meet the *** mask itself, which is not a leak.
    if (target.backend == batch_cleanup::config::Backend::kPostgres && !password.empty() &&
        password.find('*') == std::string::npos &&
        target.redacted.find(password) != std::string::npos) {
      std::abort();
    }
    if (target.backend == batch_cleanup::config::Backend::kSqlite && target.sqlite_path.empty()) {
      std::abort();  // an empty SQLite path must be refused
    }
  } catch (const batch_cleanup::ConfigError&) {
  }
  return 0;
}
