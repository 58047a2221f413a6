#include "config/mysql_url.h"

#include <cctype>
#include <set>

#include "batch_cleanup/errors.h"
#include "config/percent_encoding.h"

namespace batch_cleanup::config {
namespace {

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// The parts of scheme://[userinfo@]hostport[/db][?query].
struct Parts {
  std::string_view scheme;  // up to and including "://"
  std::string_view userinfo;
  bool has_userinfo = false;
  std::string_view hostport;
  std::string_view rest;  // "/db?query", "?query" or ""
};

Parts split(std::string_view url) {
  Parts p;
  const auto scheme_end = url.find("://") + 3;
  p.scheme = url.substr(0, scheme_end);
  std::string_view tail = url.substr(scheme_end);
  const auto authority_end = tail.find_first_of("/?");
  std::string_view authority = tail.substr(0, authority_end);
  p.rest =
      authority_end == std::string_view::npos ? std::string_view() : tail.substr(authority_end);
  const auto at = authority.rfind('@');
  if (at != std::string_view::npos) {
    p.has_userinfo = true;
    p.userinfo = authority.substr(0, at);
    p.hostport = authority.substr(at + 1);
  } else {
    p.hostport = authority;
  }
  return p;
}

}  // namespace

bool is_mysql_url(std::string_view url) {
  return starts_with(url, "mysql://") || starts_with(url, "mariadb://");
}

MysqlTarget parse_mysql_url(std::string_view url) {
  // Never echoes the URL, nor a part of it: a password with an unencoded '/' or '@' ends up
  // where a port or a database name should be.
  const auto fail = [&](const std::string& why) {
    throw ConfigError("invalid MySQL/MariaDB database URL: " + why +
                      " (use mysql://user:password@host:port/database?ssl-mode=...&socket=..."
                      "&charset=...)");
  };
  const Parts p = split(url);
  MysqlTarget t;
  if (p.has_userinfo) {
    const auto colon = p.userinfo.find(':');
    t.user = percent_decoded(p.userinfo.substr(0, colon));
    if (colon != std::string_view::npos) {
      t.password = percent_decoded(p.userinfo.substr(colon + 1));
      t.has_password = true;
    }
  }
  std::string_view host = p.hostport;
  if (starts_with(host, "[")) {  // [::1]:3306
    const auto close = host.find(']');
    if (close == std::string_view::npos) fail("unclosed [ in the host");
    t.host = std::string(host.substr(1, close - 1));
    host = host.substr(close + 1);
    if (!host.empty() && host.front() != ':') fail("unexpected text after the host");
  } else {
    const auto colon = host.rfind(':');
    t.host = percent_decoded(host.substr(0, colon));
    host = colon == std::string_view::npos ? std::string_view() : host.substr(colon);
  }
  if (!host.empty()) {  // ":port"
    const std::string port(host.substr(1));
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) == 0 ||
        std::stoul(port) > 65535) {
      fail("the port is not a number from 1 to 65535");
    }
    t.port = static_cast<unsigned>(std::stoul(port));
  }
  std::string_view rest = p.rest;
  const auto query_at = rest.find('?');
  std::string_view path = rest.substr(0, query_at);
  if (starts_with(path, "/")) path = path.substr(1);
  t.database = percent_decoded(path);
  if (t.database.empty()) fail("no database (the path after the host)");
  if (t.database.find('@') != std::string::npos || t.database.find('/') != std::string::npos) {
    fail("an '@' or '/' in the path (write a '/' or '@' in the password as %2F or %40)");
  }
  if (query_at != std::string_view::npos) {
    std::string_view query = rest.substr(query_at + 1);
    while (!query.empty()) {
      const auto amp = query.find('&');
      const std::string_view item = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      if (item.empty()) continue;
      const auto eq = item.find('=');
      const std::string key(item.substr(0, eq));
      const std::string value =
          eq == std::string_view::npos ? std::string() : percent_decoded(item.substr(eq + 1));
      if (key == "ssl-mode" || key == "ssl_mode" || key == "sslmode") {
        std::string mode;
        for (const char c : value) {
          mode += c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        static const std::set<std::string> kModes = {"disabled", "preferred", "required",
                                                     "verify-ca", "verify-identity"};
        if (!kModes.count(mode)) {
          fail("invalid ssl-mode \"" + value +
               "\" (disabled, preferred, required, verify-ca or verify-identity)");
        }
        t.ssl_mode = mode;
      } else if (key == "socket") {
        if (value.empty()) fail("empty socket path");
        t.socket = value;
      } else if (key == "charset") {
        if (value.empty() ||
            value.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos) {
          fail("invalid charset \"" + value + "\"");
        }
        t.charset = value;
      } else {
        fail("unknown option \"" + key + "\" (ssl-mode, socket, charset)");
      }
    }
  }
  return t;
}

std::string redact_mysql_url(std::string_view url) {
  const Parts p = split(url);
  std::string out(p.scheme);
  if (p.has_userinfo) {
    const auto colon = p.userinfo.find(':');
    out += std::string(p.userinfo.substr(0, colon));
    if (colon != std::string_view::npos) out += ":***";
    out += "@";
  }
  out += std::string(p.hostport);
  out += std::string(p.rest);
  return out;
}

}  // namespace batch_cleanup::config
