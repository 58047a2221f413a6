#include "log/mask.h"

namespace batch_cleanup::logging {

std::string mask_email(std::string_view email) {
  if (email.empty()) return "";
  const auto at = email.rfind('@');
  if (at == std::string_view::npos || at == 0) return "***";
  // Keep the first character of the local part (one UTF-8 sequence, never half of one).
  std::size_t first_len = 1;
  const auto lead = static_cast<unsigned char>(email[0]);
  if (lead >= 0xF0) {
    first_len = 4;
  } else if (lead >= 0xE0) {
    first_len = 3;
  } else if (lead >= 0xC0) {
    first_len = 2;
  }
  if (first_len > at) first_len = at;
  return std::string(email.substr(0, first_len)) + "***" + std::string(email.substr(at));
}

std::string scrub(std::string text, std::string_view secret) {
  if (secret.empty()) return text;
  std::size_t pos = 0;
  while ((pos = text.find(secret, pos)) != std::string::npos) {
    text.replace(pos, secret.size(), "***");
    pos += 3;
  }
  return text;
}

}  // namespace batch_cleanup::logging
