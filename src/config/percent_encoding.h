// Percent-decoding of URL parts, shared by the URL parsers and the secret scrubber.
#pragma once

#include <cctype>
#include <string>
#include <string_view>

namespace batch_cleanup::config {

// `text` percent-decoded where it can be ("%40" -> "@"); other characters, and a '%' not
// followed by two hex digits, kept as they are.
inline std::string percent_decoded(std::string_view text) {
  const auto hex = [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) != 0
               ? c - '0'
               : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
  };
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() &&
        std::isxdigit(static_cast<unsigned char>(text[i + 1])) != 0 &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2])) != 0) {
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace batch_cleanup::config
