// The policy options' texts: --match and --exclude-domain as the tool reads them (declared in
// config/options.h).
#include <string>

#include "batch_cleanup/errors.h"
#include "config/duration.h"
#include "config/email_normalization.h"
#include "config/options.h"

namespace batch_cleanup::config {

// "email", "phone", "email,phone" (any order; a policy named twice counts once) or "none".
void parse_match(const std::string& text, CleanupConfig& config) {
  config.match_email = config.match_phone = false;
  if (text == "none") return;
  std::size_t start = 0;
  while (true) {
    const auto comma = text.find(',', start);
    const std::string part = text.substr(start, comma == std::string::npos ? comma : comma - start);
    if (part == "email") {
      config.match_email = true;
    } else if (part == "phone") {
      config.match_phone = true;
    } else {
      throw ConfigError("invalid --match '" + text +
                        "': use email, phone, email,phone or none (with --expire-after)");
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
}

std::string normalized_match(const std::string& text) {
  CleanupConfig config;
  try {
    parse_match(text, config);
  } catch (const ConfigError&) {
    return text;
  }
  if (config.match_email && config.match_phone) return "email,phone";
  if (config.match_email) return "email";
  if (config.match_phone) return "phone";
  return "none";
}

std::string normalized_exclude_domain(const std::string& value) {
  std::size_t start = 0;
  while (start < value.size() && (value[start] == ' ' || value[start] == '\t')) ++start;
  if (start < value.size() && value[start] == '@')
    return value.substr(0, start) + value.substr(start + 1);
  return value;
}

const char* normalization_flag(EmailNormalization normalization) {
  switch (normalization) {
    case EmailNormalization::kLower:
      return "lower";
    case EmailNormalization::kLowerTrim:
      return "lower-trim";
    case EmailNormalization::kCollation:
      return "collation";
    case EmailNormalization::kNone:
      break;
  }
  return "none";
}

std::string describe_expiry(const CleanupConfig& config) {
  std::string out;
  if (config.expire_after.count() > 0) {
    out = config.created_column + " is more than " + format_duration(config.expire_after) + " ago";
  }
  if (config.expired_for) {
    if (!out.empty()) out += " or ";
    out += config.expires_column +
           (config.expired_for->count() > 0
                ? " passed more than " + format_duration(*config.expired_for) + " ago"
                : " has passed");
  }
  return out;
}

}  // namespace batch_cleanup::config
