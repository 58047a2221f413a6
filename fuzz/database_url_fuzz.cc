// Fuzzes the database URL parser and the password redaction.
#include <algorithm>
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
    // The printable form of a PostgreSQL URL never holds its password (SQLite has none). Text
    // that merely looks like it is no leak: a password with a '*' can meet the *** mask, and a
    // short one the rest of the URL (the password ":" of "postgres://u::@" is its separator),
    // as can a password that is also the user name. So the redaction must take away one
    // occurrence at least, and a password of four characters or more.
    const auto occurrences = [&password](const std::string& text) {
      std::size_t count = 0;
      for (auto at = text.find(password); at != std::string::npos;
           at = text.find(password, at + 1)) {
        ++count;
      }
      return count;
    };
    if (target.backend == batch_cleanup::config::Backend::kPostgres && password.size() >= 4 &&
        password.find('*') == std::string::npos &&
        occurrences(target.redacted) >= std::max<std::size_t>(1, occurrences(url))) {
      std::abort();
    }
    if (target.backend == batch_cleanup::config::Backend::kSqlite && target.sqlite_path.empty()) {
      std::abort();  // an empty SQLite path must be refused
    }
  } catch (const batch_cleanup::ConfigError&) {
  }
  return 0;
}
