#include "log/mask.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>

namespace batch_cleanup::logging {
namespace {

std::mutex g_secrets_mutex;
std::vector<std::string> g_secrets;         // longest first
std::vector<std::string> g_secrets_by_age;  // oldest first: the first to go when full
constexpr std::size_t kMaxSecrets = 256;
std::atomic<bool> g_show_pii{false};

bool local_char(unsigned char c) {
  return c >= 0x80 || std::isalnum(c) != 0 ||
         (c != 0 && std::strchr(".!#$%&'+-^_`{|}~", c) != nullptr);
}

bool domain_char(unsigned char c) {
  return c >= 0x80 || std::isalnum(c) != 0 || c == '.' || c == '-';
}

}  // namespace

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

std::string mask_emails_in(std::string_view text) {
  std::string out;
  std::size_t copied = 0;
  for (std::size_t at = text.find('@'); at != std::string_view::npos; at = text.find('@', at + 1)) {
    if (at < copied) continue;
    std::size_t start = at;
    while (start > copied && local_char(static_cast<unsigned char>(text[start - 1]))) --start;
    // UTF-8 continuation bytes: start at a lead byte.
    while (start < at && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) ++start;
    std::size_t end = at + 1;
    while (end < text.size() && domain_char(static_cast<unsigned char>(text[end]))) ++end;
    while (end > at + 1 && (text[end - 1] == '.' || text[end - 1] == '-')) --end;
    const std::string_view domain = text.substr(at + 1, end - at - 1);
    const auto dot = domain.find('.');
    if (start == at || dot == std::string_view::npos || dot == 0) continue;  // no address
    // A URL's user ("postgresql://app@db.internal/app") is no address.
    if (start >= 2 && text.substr(start - 2, 2) == "//") continue;
    out.append(text.substr(copied, start - copied));
    out += mask_email(text.substr(start, end - start));
    copied = end;
  }
  out.append(text.substr(std::min(copied, text.size())));
  return out;
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

std::string scrub_all(std::string_view text, const std::vector<std::string>& secrets) {
  std::vector<bool> secret_at;
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;
    for (auto at = text.find(secret); at != std::string_view::npos;
         at = text.find(secret, at + 1)) {
      if (secret_at.empty()) secret_at.assign(text.size(), false);
      std::fill_n(secret_at.begin() + static_cast<std::ptrdiff_t>(at), secret.size(), true);
    }
  }
  if (secret_at.empty()) return std::string(text);  // no secret in it: the common case
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!secret_at[i]) {
      out += text[i];
    } else if (i == 0 || !secret_at[i - 1]) {
      out += "***";
    }
  }
  return out;
}

void register_secrets(const std::vector<std::string>& secrets) {
  std::lock_guard lock(g_secrets_mutex);
  for (const auto& secret : secrets) {
    if (secret.size() < 2 ||
        std::find(g_secrets.begin(), g_secrets.end(), secret) != g_secrets.end()) {
      continue;
    }
    if (g_secrets.size() >= kMaxSecrets) {
      g_secrets.erase(std::find(g_secrets.begin(), g_secrets.end(), g_secrets_by_age.front()));
      g_secrets_by_age.erase(g_secrets_by_age.begin());
    }
    g_secrets.push_back(secret);
    g_secrets_by_age.push_back(secret);
  }
  std::stable_sort(g_secrets.begin(), g_secrets.end(),
                   [](const auto& a, const auto& b) { return a.size() > b.size(); });
}

std::string scrub_registered(std::string_view text) {
  std::lock_guard lock(g_secrets_mutex);
  return scrub_all(text, g_secrets);
}

void set_show_pii(bool show) { g_show_pii = show; }
bool show_pii() { return g_show_pii; }

}  // namespace batch_cleanup::logging
