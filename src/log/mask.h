// Masking of personal data before it reaches logs or reports.
#pragma once

#include <string>
#include <string_view>

namespace batch_cleanup::logging {

// "john@example.com" -> "j***@example.com"; no '@' -> "***"; empty stays empty.
std::string mask_email(std::string_view email);

// mask_email unless `show_pii`.
inline std::string maybe_mask_email(std::string_view email, bool show_pii) {
  return show_pii ? std::string(email) : mask_email(email);
}

// Replaces every occurrence of `secret` (when non-empty) in `text` by ***.
std::string scrub(std::string text, std::string_view secret);

}  // namespace batch_cleanup::logging
