#include "config/identifier.h"

#include <cctype>

#include "batch_cleanup/errors.h"

namespace batch_cleanup::config {

std::string validate_identifier(std::string_view text, std::string_view what) {
  const auto fail = [&](const std::string& why) {
    throw ConfigError("invalid " + std::string(what) + " '" + std::string(text) + "': " + why +
                      " (letters, digits, _ and $, not starting with a digit, at most 63 bytes)");
  };
  if (text.empty()) fail("empty name");
  if (text.size() > 63) fail("longer than 63 bytes");
  const auto first = static_cast<unsigned char>(text.front());
  if (!(std::isalpha(first) || first == '_')) fail("must start with a letter or _");
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || u == '_' || u == '$')) {
      fail(std::string("character '") + c + "' is not allowed");
    }
  }
  return std::string(text);
}

QualifiedName parse_table_name(std::string_view text, std::string_view what) {
  const auto dot = text.find('.');
  if (dot == std::string_view::npos) return {"", validate_identifier(text, what)};
  if (text.find('.', dot + 1) != std::string_view::npos) {
    throw ConfigError("invalid " + std::string(what) + " '" + std::string(text) +
                      "': at most one dot (schema.table)");
  }
  return {validate_identifier(text.substr(0, dot), what),
          validate_identifier(text.substr(dot + 1), what)};
}

std::string QualifiedName::display() const { return schema.empty() ? name : schema + "." + name; }

}  // namespace batch_cleanup::config
