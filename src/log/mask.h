// Masking of personal data and secrets before they reach logs, reports, status or JSON.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace batch_cleanup::logging {

// "john@example.com" -> "j***@example.com"; no '@' -> "***"; empty stays empty.
std::string mask_email(std::string_view email);

// mask_email unless `show_pii`.
inline std::string maybe_mask_email(std::string_view email, bool show_pii) {
  return show_pii ? std::string(email) : mask_email(email);
}

// `text` with every part that looks like an address (a local part of letters, digits and
// .!#$%&'+-^_`{|}~ or any non-ASCII byte, an '@', and a domain holding a '.') masked as
// mask_email does. For text the tool did not write: a database's error message (a DETAIL
// "Key (email)=(...)", a trigger's RAISE). An address already masked stays as it is.
std::string mask_emails_in(std::string_view text);

// mask_emails_in unless `show_pii`.
inline std::string maybe_mask_emails_in(std::string_view text, bool show_pii) {
  return show_pii ? std::string(text) : mask_emails_in(text);
}

// Replaces every occurrence of `secret` (when non-empty) in `text` by ***.
std::string scrub(std::string text, std::string_view secret);

// Replaces every occurrence of every secret in `text` by ***, all of them found in the text as
// it is: secrets that overlap (a password, and a longer guess of it that takes in more of the
// text) become one ***, and replacing one never hides another from the search.
std::string scrub_all(std::string_view text, const std::vector<std::string>& secrets);

// Remembers secrets (passwords of URLs, credentials of --push-metrics) for the whole process:
// every log line is scrubbed of them (scrub_registered), whatever wrote it. Thread-safe; holds
// the 256 most recently registered (the oldest go first), applied longest first; strings
// shorter than 2 characters are ignored.
void register_secrets(const std::vector<std::string>& secrets);

// `text` with every registered secret replaced by ***. Thread-safe.
std::string scrub_registered(std::string_view text);

// Whether log lines may show addresses unmasked (--log-pii of every job). Off by default:
// the logger masks what looks like an address on every line (mask_emails_in).
void set_show_pii(bool show);
bool show_pii();

}  // namespace batch_cleanup::logging
