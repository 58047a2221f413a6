// Recognises the database URL forms of the contract and redacts secrets from them. PostgreSQL
// URLs and key=value strings are parsed by libpq itself (PQconninfoParse); the redacted form is
// rendered from the parsed options.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "batch_cleanup/config.h"
#include "config/mysql_url.h"

namespace batch_cleanup::config {

enum class Backend { kPostgres, kSqlite, kMysql };

struct DatabaseTarget {
  Backend backend = Backend::kPostgres;
  std::string conninfo;      // PostgreSQL: the URL or key=value string, unchanged
  std::string password;      // PostgreSQL: the password it holds ("" when none), for scrubbing
  std::string ssl_password;  // PostgreSQL: its sslpassword (the client key's), "" when none
  std::string sqlite_path;   // SQLite: the file path
  MysqlTarget mysql;         // MySQL/MariaDB: the parsed URL (config/mysql_url.h)
  std::string redacted;      // safe to print: password and sslpassword replaced by ***
};

// postgresql://..., postgres://..., a libpq key=value string, sqlite:PATH, sqlite:///ABS/PATH,
// mysql://... and mariadb://... (config/mysql_url.h).
// Throws ConfigError for an empty string, another scheme, an empty SQLite path, or a
// PostgreSQL string libpq cannot parse or would refuse to connect with (a non-numeric port, an
// unknown sslmode, ...). The message names the kind of fault and its position, never a part of
// `url`. The secrets of `url` (secrets_of) are registered with logging::register_secrets, so
// that no log line prints them.
DatabaseTarget parse_database_url(std::string_view url);

// The printable form of a URL: a PostgreSQL URL or key=value string rendered from its parsed
// options with the password and sslpassword as ***; a SQLite URL as it is; anything
// parse_database_url refuses reduced to "(unparsable connection string)".
std::string redact_database_url(std::string_view url);

// The password a PostgreSQL URL or key=value string holds, as libpq reads it (decoded), or "".
std::string extract_password(std::string_view url);

// Every part of `source` (a URL or key=value string, parsable or not) that may be a secret,
// longest first: the password and sslpassword as libpq reads them, and, read without libpq (for
// text it refuses), what follows the first ':' of a URL's user information (up to its last
// '@') and the value of every password= and sslpassword=, each raw, unquoted and
// percent-decoded. Parts shorter than 2 characters are left out.
std::vector<std::string> secrets_of(std::string_view source);

// The libpq options whose values are secrets (password, sslpassword): printed as ***, scrubbed
// from every message.
bool is_secret_option(std::string_view keyword);

// `text` with every secret of `source` replaced by ***: the one scrubber for any message that
// may hold a part of a URL, a key=value string, or a value read from the environment or a file.
std::string scrub_secrets(std::string_view text, std::string_view source);

// A URL of another kind (--push-metrics) with its user information, if any, replaced by ***:
// "http://user:pw@host:9091/x" -> "http://***@host:9091/x".
std::string redact_userinfo(std::string_view url);

// The database URL of `config`: config.database_url, or the environment's DATABASE_URL when
// it is empty (the one place that reads the variable). May be empty.
std::string database_url_of(const CleanupConfig& config);

}  // namespace batch_cleanup::config
