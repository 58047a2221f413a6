// The one scrubber of URL secrets (declared in config/database_url.h): what may be a secret in
// a URL or key=value string, read by libpq where it can and by hand where it cannot.
#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "config/database_url.h"
#include "config/percent_encoding.h"
#include "log/mask.h"

namespace batch_cleanup::config {
namespace {

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// Adds `value` raw, unquoted (a quoted value of a key=value string) and percent-decoded.
void add_candidate(std::vector<std::string>& out, std::string_view value) {
  out.emplace_back(value);
  if (value.size() >= 2 && (value.front() == '\'' || value.front() == '"')) {
    value.remove_prefix(1);
    if (!value.empty() && (value.back() == '\'' || value.back() == '"')) value.remove_suffix(1);
    out.emplace_back(value);
  }
  out.push_back(percent_decoded(value));
}

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

}  // namespace

bool is_secret_option(std::string_view keyword) {
  return keyword == "password" || keyword == "sslpassword";
}

std::vector<std::string> secrets_of(std::string_view source) {
  std::vector<std::string> out;
  if (starts_with(source, "sqlite:")) return out;
  // What libpq reads as secrets, when it can parse the text.
  char* error = nullptr;
  const std::string text(source);
  if (PQconninfoOption* options = PQconninfoParse(text.c_str(), &error)) {
    for (const PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
      if (option->val != nullptr && is_secret_option(option->keyword))
        out.emplace_back(option->val);
    }
    PQconninfoFree(options);
  }
  PQfreemem(error);
  // Read without libpq, for text it refuses: the user information of a URL-like string (after
  // its scheme), from its first ':' up to an '@'. Which '@' ends it is not certain: libpq takes
  // the first '@' before the first '/', query included (`app:pw?x@db`); an unencoded '@' in a
  // password (`app:p@w@db`) makes the last one before the query the better guess. Every '@'
  // before the first '/' gives a candidate, and so does the last one before the query...
  std::string_view rest = source;
  if (const auto colon = rest.find(':');
      colon != std::string_view::npos && rest.find('=') > colon && rest.find(' ') > colon) {
    rest.remove_prefix(colon + 1);
    while (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
    const auto add_userinfo = [&out](std::string_view userinfo) {
      const auto password = userinfo.find(':');
      if (password != std::string_view::npos) add_candidate(out, userinfo.substr(password + 1));
    };
    const std::string_view authority = rest.substr(0, rest.find('/'));
    for (auto at = authority.find('@'); at != std::string_view::npos;
         at = authority.find('@', at + 1)) {
      add_userinfo(authority.substr(0, at));
    }
    if (const auto at = rest.substr(0, rest.find('?')).rfind('@'); at != std::string_view::npos)
      add_userinfo(rest.substr(0, at));
  }
  // ... and the value of every password= or sslpassword=, up to the next separator.
  const bool uri = starts_with(source, "postgresql://") || starts_with(source, "postgres://");
  for (const std::string_view keyword : {"password", "sslpassword"}) {
    for (auto at = source.find(keyword); at != std::string_view::npos;
         at = source.find(keyword, at + 1)) {
      auto value_start = at + keyword.size();
      while (value_start < source.size() && is_space(source[value_start])) ++value_start;
      if (value_start >= source.size() || source[value_start] != '=') continue;
      ++value_start;
      while (value_start < source.size() && is_space(source[value_start])) ++value_start;
      // As libpq reads a value: in a URL's query, up to the next '&' (spaces and line breaks
      // included); in a key=value string, a backslash takes the next character as it is, a
      // space included (`password=a\ b` is "a b"), in single quotes and out (a double quote is
      // a character like any other there).
      std::size_t end = value_start;
      const bool quoted = !uri && end < source.size() && source[end] == '\'';
      const char quote = quoted ? source[end++] : '\0';
      if (uri) end = std::min(source.find('&', value_start), source.size());
      while (end < source.size() && !uri) {
        const char c = source[end];
        if (c == '\\') {
          end = std::min(end + 2, source.size());
        } else if (quoted ? c == quote : is_space(c)) {
          break;
        } else {
          ++end;
        }
      }
      if (quoted && end < source.size()) ++end;
      const std::string_view value = source.substr(value_start, end - value_start);
      add_candidate(out, value);
      // The value as libpq holds it, its backslashes taken away (what a message may quote).
      std::string unescaped;
      for (std::size_t i = 0; i < value.size(); ++i) {
        if (value[i] == '\\' && i + 1 < value.size()) ++i;
        unescaped += value[i];
      }
      if (unescaped != value) add_candidate(out, unescaped);
      // And, should libpq read further than the above, the whole rest of the text: a message
      // that quotes all of it loses the tail, never the secret.
      if (end < source.size()) out.emplace_back(source.substr(value_start));
    }
  }
  // Longest first, so that a secret inside another is not half-replaced; nothing too short to
  // be a secret rather than a word of the message.
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.size() > b.size(); });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  out.erase(std::remove_if(out.begin(), out.end(), [](const auto& s) { return s.size() < 2; }),
            out.end());
  return out;
}

std::string scrub_secrets(std::string_view text, std::string_view source) {
  return logging::scrub_all(text, secrets_of(source));
}

}  // namespace batch_cleanup::config
