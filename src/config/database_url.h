// Recognises the database URL forms of the contract and redacts secrets from them. PostgreSQL
// URLs and key=value strings are parsed by libpq itself (PQconninfoParse); the redacted form is
// rendered from the parsed options.
#pragma once

#include <string>
#include <string_view>

#include "batch_cleanup/config.h"
#include "config/mysql_url.h"

namespace batch_cleanup::config {

enum class Backend { kPostgres, kSqlite, kMysql };

struct DatabaseTarget {
  Backend backend = Backend::kPostgres;
  std::string conninfo;     // PostgreSQL: the URL or key=value string, unchanged
  std::string password;     // PostgreSQL: the password it holds ("" when none), for scrubbing
  std::string sqlite_path;  // SQLite: the file path
  MysqlTarget mysql;        // MySQL/MariaDB: the parsed URL (config/mysql_url.h)
  std::string redacted;     // safe to print: passwords replaced by ***
};

// postgresql://..., postgres://..., a libpq key=value string, sqlite:PATH, sqlite:///ABS/PATH,
// mysql://... and mariadb://... (config/mysql_url.h).
// Throws ConfigError for an empty string, another scheme, an empty SQLite path, or a
// PostgreSQL string libpq cannot parse or would refuse to connect with (a non-numeric port, an
// unknown sslmode, ...).
DatabaseTarget parse_database_url(std::string_view url);

// The printable form of a URL: a PostgreSQL URL or key=value string rendered from its parsed
// options with the password as ***; a SQLite URL as it is; anything else libpq cannot parse
// reduced to "(unparsable connection string)".
std::string redact_database_url(std::string_view url);

// The password a PostgreSQL URL or key=value string holds, as libpq reads it (decoded), or "".
std::string extract_password(std::string_view url);

// The database URL of `config`: config.database_url, or the environment's DATABASE_URL when
// it is empty (the one place that reads the variable). May be empty.
std::string database_url_of(const CleanupConfig& config);

}  // namespace batch_cleanup::config
