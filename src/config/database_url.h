// Recognises the database URL forms of the contract and redacts secrets from them.
#pragma once

#include <string>
#include <string_view>

namespace batch_cleanup::config {

enum class Backend { kPostgres, kSqlite };

struct DatabaseTarget {
  Backend backend = Backend::kPostgres;
  std::string conninfo;     // PostgreSQL: the URL or key=value string, unchanged
  std::string sqlite_path;  // SQLite: the file path
  std::string redacted;     // safe to print: passwords replaced by ***
};

// postgresql://..., postgres://..., a libpq key=value string, sqlite:PATH, sqlite:///ABS/PATH.
// Throws ConfigError for an empty string, another scheme, or an empty SQLite path.
DatabaseTarget parse_database_url(std::string_view url);

// Replaces the password of a URL (user:PASS@ and ?password=) or of a key=value string
// (password=...) with ***. Leaves anything else unchanged.
std::string redact_database_url(std::string_view url);

// The password embedded in a URL or key=value string, or "" (used to scrub error texts).
std::string extract_password(std::string_view url);

}  // namespace batch_cleanup::config
