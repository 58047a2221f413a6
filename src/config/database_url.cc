#include "config/database_url.h"

#include <cctype>

#include "batch_cleanup/errors.h"

namespace batch_cleanup::config {
namespace {

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

bool is_postgres_uri(std::string_view url) {
  return starts_with(url, "postgresql://") || starts_with(url, "postgres://");
}

// Redacts "password=VALUE" inside a key=value conninfo; VALUE may be single-quoted.
std::string redact_keyword_password(std::string_view conninfo) {
  std::string out;
  std::size_t i = 0;
  while (i < conninfo.size()) {
    const bool at_word_start = i == 0 || std::isspace(static_cast<unsigned char>(conninfo[i - 1]));
    if (at_word_start && conninfo.substr(i, 8) == "password") {
      std::size_t j = i + 8;
      while (j < conninfo.size() && conninfo[j] == ' ') ++j;
      if (j < conninfo.size() && conninfo[j] == '=') {
        ++j;
        while (j < conninfo.size() && conninfo[j] == ' ') ++j;
        if (j < conninfo.size() && conninfo[j] == '\'') {
          ++j;
          while (j < conninfo.size() && conninfo[j] != '\'') j += conninfo[j] == '\\' ? 2 : 1;
          if (j < conninfo.size()) ++j;
        } else {
          while (j < conninfo.size() && !std::isspace(static_cast<unsigned char>(conninfo[j]))) ++j;
        }
        out += "password=***";
        i = std::min(j, conninfo.size());
        continue;
      }
    }
    out += conninfo[i++];
  }
  return out;
}

std::string redact_uri_password(std::string_view uri) {
  std::string out(uri);
  const auto scheme_end = out.find("://");
  if (scheme_end != std::string::npos) {
    const auto authority_start = scheme_end + 3;
    auto authority_end = out.find_first_of("/?", authority_start);
    if (authority_end == std::string::npos) authority_end = out.size();
    const auto at = out.rfind('@', authority_end);
    if (at != std::string::npos && at >= authority_start) {
      const auto colon = out.find(':', authority_start);
      if (colon != std::string::npos && colon < at) {
        out.replace(colon + 1, at - colon - 1, "***");
      }
    }
  }
  // Query parameter password=...
  const auto query = out.find('?');
  if (query != std::string::npos) {
    std::size_t pos = query + 1;
    while (pos < out.size()) {
      auto amp = out.find('&', pos);
      if (amp == std::string::npos) amp = out.size();
      if (out.compare(pos, 9, "password=") == 0) {
        out.replace(pos + 9, amp - pos - 9, "***");
        amp = out.find('&', pos);
        if (amp == std::string::npos) amp = out.size();
      }
      pos = amp + 1;
    }
  }
  return out;
}

}  // namespace

namespace {

// The password may appear again elsewhere in the text (a database named like it, a repeated
// URL): the printable form hides every occurrence.
std::string without_password(std::string redacted, std::string_view url) {
  const std::string password = extract_password(url);
  if (password.empty()) return redacted;
  for (auto at = redacted.find(password); at != std::string::npos;
       at = redacted.find(password, at + 3)) {
    redacted.replace(at, password.size(), "***");
  }
  return redacted;
}

}  // namespace

DatabaseTarget parse_database_url(std::string_view url) {
  DatabaseTarget target;
  if (url.empty()) {
    throw ConfigError(
        "no database configured: set DATABASE_URL or pass --database-url "
        "(postgresql://..., a libpq key=value string, or sqlite:PATH)");
  }
  if (starts_with(url, "sqlite:")) {
    std::string_view rest = url.substr(7);
    if (starts_with(rest, "///")) {
      rest = rest.substr(2);  // keep one slash: sqlite:///abs/path -> /abs/path
    } else if (starts_with(rest, "//")) {
      throw ConfigError("unsupported SQLite URL '" + std::string(url) +
                        "': use sqlite:PATH (relative or absolute) or sqlite:///ABS/PATH");
    }
    if (rest.empty()) throw ConfigError("empty SQLite path in database URL");
    target.backend = Backend::kSqlite;
    target.sqlite_path = std::string(rest);
    target.redacted = std::string(url);
    return target;
  }
  if (is_postgres_uri(url)) {
    target.conninfo = std::string(url);
    target.redacted = without_password(redact_uri_password(url), url);
    return target;
  }
  const auto scheme = url.find("://");
  if (scheme != std::string_view::npos) {
    throw ConfigError(
        "unsupported database URL scheme '" + std::string(url.substr(0, scheme)) +
        "': use postgresql://, postgres://, a libpq key=value string, or sqlite:PATH");
  }
  if (url.find('=') != std::string_view::npos) {
    target.conninfo = std::string(url);
    target.redacted = without_password(redact_keyword_password(url), url);
    return target;
  }
  throw ConfigError("unrecognised database URL '" + redact_keyword_password(url) +
                    "': use postgresql://, postgres://, a libpq key=value string, or sqlite:PATH");
}

std::string redact_database_url(std::string_view url) {
  if (is_postgres_uri(url) || url.find("://") != std::string_view::npos) {
    return redact_uri_password(url);
  }
  return redact_keyword_password(url);
}

std::string extract_password(std::string_view url) {
  const std::string redacted = redact_database_url(url);
  // Walk both strings: the password is what the first "***" replaced.
  const auto mark = redacted.find("***");
  if (mark == std::string::npos) return "";
  const std::size_t tail = redacted.size() - mark - 3;
  // The first redaction only: text after it is identical up to later redactions, so compare
  // against the part of the tail without further *** markers.
  const auto next = redacted.find("***", mark + 3);
  std::string_view after = std::string_view(redacted).substr(
      mark + 3, next == std::string::npos ? tail : next - mark - 3);
  const auto end = url.find(after, mark);
  if (after.empty()) {
    std::string value(url.substr(mark));
    if (!value.empty() && value.front() == '\'' && value.back() == '\'' && value.size() >= 2) {
      value = value.substr(1, value.size() - 2);
    }
    return value;
  }
  if (end == std::string_view::npos) return "";
  std::string value(url.substr(mark, end - mark));
  if (value.size() >= 2 && value.front() == '\'' && value.back() == '\'') {
    value = value.substr(1, value.size() - 2);
  }
  return value;
}

}  // namespace batch_cleanup::config
