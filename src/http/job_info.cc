#include "http/job_info.h"

#include "batch_cleanup/version.h"
#include "config/condition.h"
#include "config/database_url.h"
#include "config/duration.h"
#include "config/email_normalization.h"
#include "config/options.h"
#include "store/store.h"

namespace batch_cleanup::http {
nlohmann::json job_info(const CleanupConfig& config) {
  nlohmann::json info = {{"version", kVersion},
                         {"users_table", config.users_table},
                         {"pending_table", config.pending_table},
                         {"interval_ms", config.interval.count()},
                         {"dry_run", config.dry_run},
                         {"archive_table", config.archive_table}};
  try {
    const auto target = config::parse_database_url(config.database_url);
    info["backend"] = store::backend_name(target);
    info["database"] = target.redacted;
  } catch (const std::exception&) {
    info["backend"] = "unknown";
    info["database"] = "";
  }
  auto policies = nlohmann::json::array();
  if (config.match_email) {
    std::string email = "email";
    if (config.normalize_email != EmailNormalization::kNone) {
      email += std::string(" (") + config::normalization_flag(config.normalize_email) + ")";
    }
    policies.push_back(email);
  }
  if (config.match_phone) policies.push_back("phone (" + config.phone_column + ")");
  if (config.expiry_policy()) policies.push_back("expired: " + config::describe_expiry(config));
  auto protections = nlohmann::json::array();
  if (config.min_age.count() > 0) {
    protections.push_back("min-age " + config::format_duration(config.min_age));
  }
  for (const auto& condition : config.conditions) {
    protections.push_back("where " +
                          config::describe_condition(*config::parse_condition(condition)));
  }
  if (!config.exclude_emails.empty() || !config.exclude_domains.empty()) {
    protections.push_back("exempt: " + std::to_string(config.exclude_emails.size()) +
                          " email(s), " + std::to_string(config.exclude_domains.size()) +
                          " domain(s)");
  }
  if (config.max_deletes >= 0) {
    protections.push_back("max-deletes " + std::to_string(config.max_deletes));
  }
  if (config.max_fraction > 0) {
    protections.push_back("max-fraction " + nlohmann::json(config.max_fraction).dump());
  }
  info["policies"] = std::move(policies);
  info["protections"] = std::move(protections);
  return info;
}

}  // namespace batch_cleanup::http
