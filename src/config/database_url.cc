#include "config/database_url.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "batch_cleanup/errors.h"
#include "log/mask.h"

namespace batch_cleanup::config {
namespace {

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

bool is_postgres_uri(std::string_view url) {
  return starts_with(url, "postgresql://") || starts_with(url, "postgres://");
}

// The options libpq parsed from a connection string, in libpq's order, with values set.
struct ParsedOptions {
  std::vector<std::pair<std::string, std::string>> values;
  const std::string* find(std::string_view keyword) const {
    for (const auto& [name, value] : values) {
      if (name == keyword) return &value;
    }
    return nullptr;
  }
};

// What libpq refused, in our words: libpq's message quotes the offending token (a password
// with a stray '%', the whole URI), so only its constant wording is read, never printed.
struct LibpqKind {
  std::string_view prefix;  // how libpq's message starts
  std::string_view kind;    // what we print
};
constexpr LibpqKind kLibpqKinds[] = {
    {"invalid percent-encoded token", "a '%' not followed by two hex digits (write '%' as %25)"},
    {"forbidden value %00", "an encoded NUL (%00)"},
    {"end of string reached when looking for matching \"]\"",
     "an IPv6 host address without its closing ']'"},
    {"IPv6 host address may not be empty", "an empty IPv6 host address"},
    {"unexpected character",
     "an unexpected character after the host (an '@', ':' or '/' in the user name or password "
     "must be percent-encoded: @ as %40, : as %3A, / as %2F)"},
    {"extra key/value separator", "a query parameter with a second '='"},
    {"missing key/value separator", "a query parameter without '='"},
    {"invalid URI query parameter", "an unknown query parameter"},
    {"missing \"=\" after", "a word without '=' in a key=value string"},
    {"unterminated quoted string", "an unterminated quoted value"},
    {"invalid connection option", "an unknown connection option"},
};

// The 1-based character of `input` where libpq's complaint `message` points, or 0 when unknown.
std::size_t libpq_position(const std::string& message, std::string_view input,
                           std::string_view kind_prefix) {
  const auto at_position = message.find(" at position ");
  if (at_position != std::string::npos) {
    // libpq counts from 1 already.
    return static_cast<std::size_t>(std::strtoul(message.c_str() + at_position + 13, nullptr, 10));
  }
  // The token is quoted last: from the first quote after the kind's wording to the last quote.
  const std::size_t open = message.find('"', kind_prefix.size());
  const auto close = message.rfind('"');
  if (open == std::string::npos || close == std::string::npos || close <= open + 1) return 0;
  const std::string token = message.substr(open + 1, close - open - 1);
  const auto found = input.find(token);
  if (found == std::string_view::npos) return 0;
  if (starts_with(kind_prefix, "end of string reached")) {
    // libpq quotes the whole URI: point at the bracket left open.
    const auto bracket = input.rfind('[');
    return bracket == std::string_view::npos ? 0 : bracket + 1;
  }
  if (starts_with(kind_prefix, "invalid percent-encoded token")) {
    // Point at the '%' itself.
    for (std::size_t i = found; i < found + token.size(); ++i) {
      if (input[i] != '%') continue;
      const bool hex = i + 2 < input.size() &&
                       std::isxdigit(static_cast<unsigned char>(input[i + 1])) &&
                       std::isxdigit(static_cast<unsigned char>(input[i + 2]));
      if (!hex) return i + 1;
    }
  }
  return found + 1;
}

// Parses with libpq's own parser. Throws ConfigError naming the kind of fault and its position
// when libpq refuses; never libpq's text, which echoes the input.
ParsedOptions parse_with_libpq(std::string_view text) {
  const std::string conninfo(text);
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)> options(
      PQconninfoParse(conninfo.c_str(), &error), &PQconninfoFree);
  if (!options) {
    const std::string message = error != nullptr ? error : "out of memory";
    PQfreemem(error);
    std::string kind = "libpq cannot parse it";
    std::size_t position = 0;
    for (const auto& known : kLibpqKinds) {
      if (starts_with(message, known.prefix)) {
        kind = known.kind;
        position = libpq_position(message, text, known.prefix);
        break;
      }
    }
    throw ConfigError("invalid database URL: " + kind +
                      (position > 0 ? " at character " + std::to_string(position) : std::string()) +
                      " (of " + std::to_string(text.size()) + ")");
  }
  ParsedOptions out;
  for (const PQconninfoOption* option = options.get(); option->keyword != nullptr; ++option) {
    if (option->val != nullptr) out.values.emplace_back(option->keyword, option->val);
  }
  return out;
}

// libpq checks these values only when it connects; a typo there is a configuration error, not
// an unreachable server, so they are checked here, with libpq's words.
void check_values(const ParsedOptions& options) {
  static const std::map<std::string, std::set<std::string>> kChoices = {
      {"sslmode", {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}},
      {"gssencmode", {"disable", "prefer", "require"}},
      {"channel_binding", {"disable", "prefer", "require"}},
      {"target_session_attrs",
       {"any", "read-write", "read-only", "primary", "standby", "prefer-standby"}},
  };
  for (const auto& [keyword, allowed] : kChoices) {
    const std::string* value = options.find(keyword);
    if (value != nullptr && !allowed.count(*value)) {
      std::string choices;
      for (const auto& choice : allowed) choices += (choices.empty() ? "" : ", ") + choice;
      throw ConfigError("invalid database URL: invalid " + keyword + " value (use " + choices +
                        ")");
    }
  }
  const auto is_integer = [](std::string_view text) {
    std::size_t i = 0;
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
    const std::size_t digits = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    const bool any = i > digits;
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    return any && i == text.size();
  };
  for (const char* keyword : {"port", "connect_timeout", "keepalives", "keepalives_idle",
                              "keepalives_interval", "keepalives_count", "tcp_user_timeout"}) {
    const std::string* value = options.find(keyword);
    if (value == nullptr) continue;
    // port may list one per host ("5432,5433"); an empty item means the default.
    std::size_t start = 0;
    while (true) {
      const std::size_t comma =
          std::string(keyword) == "port" ? value->find(',', start) : std::string::npos;
      const std::string item = value->substr(start, comma - start);
      if (!item.empty() && !is_integer(item)) {
        throw ConfigError("invalid database URL: connection option \"" + std::string(keyword) +
                          "\" is not an integer");
      }
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
}

// A value as a key=value string needs it: bare when plain, else single-quoted with \ escapes.
std::string conninfo_value(const std::string& value) {
  const bool plain = !value.empty() && value.find_first_of(" \t\n\r'\\") == std::string::npos;
  if (plain) return value;
  std::string out = "'";
  for (const char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

// Percent-encodes what a URL component cannot hold as it is (`keep`: more characters left as
// they are, such as the slashes of a socket directory in a query value).
std::string url_encoded(const std::string& value, std::string_view keep = "") {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
        keep.find(static_cast<char>(c)) != std::string_view::npos) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// Where the user wrote `keyword=` in `text` at the start of a word (after the start, a space,
// '?' or '&'); npos when nowhere. Only orders the rendering: the values come from libpq.
std::size_t written_at(std::string_view text, const std::string& keyword) {
  for (std::size_t at = text.find(keyword); at != std::string_view::npos;
       at = text.find(keyword, at + 1)) {
    const bool word_start = at == 0 || std::isspace(static_cast<unsigned char>(text[at - 1])) ||
                            text[at - 1] == '?' || text[at - 1] == '&';
    std::size_t next = at + keyword.size();
    while (next < text.size() && text[next] == ' ') ++next;
    if (word_start && next < text.size() && text[next] == '=') return at;
  }
  return std::string_view::npos;
}

// The parsed options, in the order the user wrote them.
std::vector<std::pair<std::string, std::string>> in_written_order(const ParsedOptions& options,
                                                                  std::string_view text) {
  auto ordered = options.values;
  std::stable_sort(ordered.begin(), ordered.end(), [&](const auto& a, const auto& b) {
    return written_at(text, a.first) < written_at(text, b.first);
  });
  return ordered;
}

// The parsed options in the user's form (a URL stays a URL, each option where it was written),
// with the password as ***.
std::string render(const ParsedOptions& options, std::string_view original) {
  if (!is_postgres_uri(original)) {
    std::string out;
    for (const auto& [keyword, value] : in_written_order(options, original)) {
      out += (out.empty() ? "" : " ") + keyword + "=" +
             (is_secret_option(keyword) ? std::string("***") : conninfo_value(value));
    }
    return out;
  }
  const auto query_start = original.find('?');
  const std::string_view query =
      query_start == std::string_view::npos ? std::string_view() : original.substr(query_start);
  const auto in_query = [&](const std::string& keyword) {
    return written_at(query, keyword) != std::string_view::npos;
  };
  const auto authority = [&](const char* keyword) -> const std::string* {
    const std::string* value = options.find(keyword);
    return value != nullptr && !in_query(keyword) ? value : nullptr;
  };
  std::string out(original.substr(0, original.find("://") + 3));
  const std::string* user = authority("user");
  const std::string* password = authority("password");
  if (user != nullptr) out += url_encoded(*user);
  if (password != nullptr) out += ":***";
  if (user != nullptr || password != nullptr) out += "@";
  // Several hosts (failover) pair with their ports: h1:5432,h2:5433.
  const auto split = [](const std::string* list) {
    std::vector<std::string> items;
    if (list == nullptr) return items;
    std::size_t start = 0;
    for (std::size_t comma; (comma = list->find(',', start)) != std::string::npos;
         start = comma + 1) {
      items.push_back(list->substr(start, comma - start));
    }
    items.push_back(list->substr(start));
    return items;
  };
  const auto hosts = split(authority("host"));
  const auto ports = split(authority("port"));
  for (std::size_t i = 0; i < std::max(hosts.size(), ports.size()); ++i) {
    if (i > 0) out += ",";
    if (i < hosts.size()) out += url_encoded(hosts[i], "[]:");
    if (i < ports.size() && !ports[i].empty()) out += ":" + ports[i];
  }
  out += "/";
  if (const std::string* dbname = authority("dbname")) out += url_encoded(*dbname);
  std::string rendered_query;
  for (const auto& [keyword, value] : in_written_order(options, query)) {
    if (!in_query(keyword)) continue;
    rendered_query += (rendered_query.empty() ? "?" : "&") + keyword + "=" +
                      (is_secret_option(keyword) ? std::string("***") : url_encoded(value, "/:,"));
  }
  return out + rendered_query;
}

// Every ConfigError about `url` scrubbed of its secrets (a second line of defence: the messages
// above print no part of the input); the secrets registered for every later log line.
template <typename F>
auto guarded(std::string_view url, F&& body) {
  logging::register_secrets(secrets_of(url));
  try {
    return body();
  } catch (const ConfigError& e) {
    throw ConfigError(scrub_secrets(e.what(), url));
  }
}

DatabaseTarget parse_unguarded(std::string_view url) {
  DatabaseTarget target;
  if (url.empty()) {
    throw ConfigError(
        "no database configured: set DATABASE_URL or pass --database-url "
        "(postgresql://..., a libpq key=value string, or sqlite:PATH)");
  }
  // A NUL byte (a TOML "\u0000") would end the text libpq and SQLite read early: what follows
  // it would be neither used nor known as a secret.
  if (const auto nul = url.find('\0'); nul != std::string_view::npos) {
    throw ConfigError("invalid database URL: a NUL byte at character " + std::to_string(nul + 1) +
                      " (of " + std::to_string(url.size()) + ")");
  }
  if (starts_with(url, "sqlite:")) {
    std::string_view rest = url.substr(7);
    if (starts_with(rest, "///")) {
      rest = rest.substr(2);  // keep one slash: sqlite:///abs/path -> /abs/path
    } else if (starts_with(rest, "//")) {
      throw ConfigError(
          "unsupported SQLite URL: sqlite:// names a host; use sqlite:PATH (relative or "
          "absolute) or sqlite:///ABS/PATH");
    }
    if (rest.empty()) throw ConfigError("empty SQLite path in database URL");
    target.backend = Backend::kSqlite;
    target.sqlite_path = std::string(rest);
    target.redacted = std::string(url);
    return target;
  }
  if (is_mysql_url(url)) {
    target.backend = Backend::kMysql;
    target.mysql = parse_mysql_url(url);
    target.password = target.mysql.password;
    target.redacted = scrub_secrets(redact_mysql_url(url), url);
    return target;
  }
  const auto scheme = url.find("://");
  if (!is_postgres_uri(url) && scheme != std::string_view::npos) {
    const std::string_view name = url.substr(0, scheme);
    const bool printable =
        !name.empty() && name.size() <= 16 && std::all_of(name.begin(), name.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '.' ||
                 c == '-';
        });
    throw ConfigError("unsupported database URL scheme" +
                      (printable ? " '" + std::string(name) + "'" : std::string()) +
                      ": use postgresql://, postgres://, a libpq key=value string, sqlite:PATH, "
                      "mysql:// or mariadb://");
  }
  if (!is_postgres_uri(url) && url.find('=') == std::string_view::npos) {
    const bool one_slash = starts_with(url, "postgresql:") || starts_with(url, "postgres:");
    throw ConfigError(
        std::string("unrecognised database URL (") + std::to_string(url.size()) + " characters" +
        (one_slash ? ", starting postgresql: or postgres: without '//'"
                   : ", with no scheme and no '='") +
        "): use postgresql://, postgres://, a libpq key=value string, sqlite:PATH, mysql:// or "
        "mariadb://");
  }
  const ParsedOptions options = parse_with_libpq(url);
  check_values(options);
  // libpq ends a URL's user information at its first '@' and takes the rest as the host: an
  // unencoded '@' in a password would send its tail to DNS and into every message.
  if (const std::string* host = options.find("host");
      host != nullptr && is_postgres_uri(url) && host->find('@') != std::string::npos) {
    const auto first_at = url.find('@');
    throw ConfigError(
        "invalid database URL: an unencoded '@' in the user name or password (write '@' as "
        "%40) at character " +
        std::to_string(first_at + 1) + " (of " + std::to_string(url.size()) + ")");
  }
  // An unencoded '/' (or '?') in a password ends the authority early: the rest, '@' and host
  // included, becomes the database name. A literal '@' in the path means that (a database
  // named with an '@' is written %40).
  if (is_postgres_uri(url)) {
    const auto authority = url.find("://") + 3;
    const auto path = url.find('/', authority);
    const auto query = url.find('?', authority);
    const auto at = path == std::string_view::npos ? std::string_view::npos : url.find('@', path);
    if (at != std::string_view::npos && at < query &&
        url.substr(authority, path - authority).find('@') == std::string_view::npos) {
      throw ConfigError(
          "invalid database URL: an '@' after the path starts, so an unencoded '/' in the user "
          "name or password? (write '/' as %2F, '@' as %40) at character " +
          std::to_string(path + 1) + " (of " + std::to_string(url.size()) + ")");
    }
  }
  target.conninfo = std::string(url);
  if (const std::string* password = options.find("password")) target.password = *password;
  if (const std::string* key = options.find("sslpassword")) target.ssl_password = *key;
  target.redacted = scrub_secrets(render(options, url), url);
  return target;
}

}  // namespace

DatabaseTarget parse_database_url(std::string_view url) {
  return guarded(url, [&] { return parse_unguarded(url); });
}

std::string redact_database_url(std::string_view url) {
  if (starts_with(url, "sqlite:")) return std::string(url);
  try {
    // What parse_database_url refuses (an '@' libpq would take into the host, ...) is not
    // rendered either.
    return parse_database_url(url).redacted;
  } catch (const ConfigError&) {
    return "(unparsable connection string)";
  }
}

std::string extract_password(std::string_view url) {
  if (starts_with(url, "sqlite:")) return "";
  if (is_mysql_url(url)) {
    try {
      return parse_mysql_url(url).password;
    } catch (const ConfigError&) {
      return "";
    }
  }
  try {
    const auto options = parse_with_libpq(url);
    const std::string* password = options.find("password");
    return password != nullptr ? *password : std::string();
  } catch (const ConfigError&) {
    return "";
  }
}

std::string redact_userinfo(std::string_view url) {
  const auto scheme_end = url.find("://");
  const auto host_start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  const auto authority_end = url.find_first_of("/?#", host_start);
  const auto at = url.substr(0, authority_end).rfind('@');
  if (at == std::string_view::npos || at < host_start) return std::string(url);
  return std::string(url.substr(0, host_start)) + "***" + std::string(url.substr(at));
}

std::string database_url_of(const CleanupConfig& config) {
  if (!config.database_url.empty()) return config.database_url;
  const char* env = std::getenv("DATABASE_URL");
  return env != nullptr ? env : "";
}

}  // namespace batch_cleanup::config
