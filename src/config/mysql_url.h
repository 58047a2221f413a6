// MySQL and MariaDB URLs: mysql://user:pass@host:port/db and mariadb://..., with ?ssl-mode=,
// ?socket= and ?charset=. Parsed here (Connector/C has no URL parser); the password is kept
// apart for the connection and replaced by *** in the printable form.
#pragma once

#include <string>
#include <string_view>

namespace batch_cleanup::config {

struct MysqlTarget {
  std::string user;      // empty: the client's default (~/.my.cnf, else the login name)
  std::string password;  // decoded; empty: none in the URL (MYSQL_PWD, ~/.my.cnf may give one)
  bool has_password = false;
  std::string host;   // empty: localhost (the socket)
  unsigned port = 0;  // 0: the default (3306)
  std::string database;
  std::string socket;    // ?socket=/path
  std::string ssl_mode;  // ?ssl-mode= disabled, preferred, required, verify-ca, verify-identity
  std::string charset = "utf8mb4";  // ?charset=
};

// True for mysql:// and mariadb:// URLs.
bool is_mysql_url(std::string_view url);

// Throws ConfigError for a URL it cannot read (a bad port, an unknown query key or ssl-mode,
// no database).
MysqlTarget parse_mysql_url(std::string_view url);

// The URL with the password as ***.
std::string redact_mysql_url(std::string_view url);

}  // namespace batch_cleanup::config
