#include "store/sql/policy_spec.h"

#include "store/reasons.h"
#include "store/sql/dry_run_sql.h"

namespace batch_cleanup::store::sql {

PredicateSpec email_predicate(const CleanupConfig& config, const PredicateColumns& columns) {
  PredicateSpec spec;
  spec.users = columns.users;
  spec.email = columns.email;
  spec.match_email = config.match_email;
  spec.normalize = config.normalize_email;
  return spec;
}

PredicateSpec policy_predicate(Executor& executor, const CleanupConfig& config,
                               const PredicateColumns& columns) {
  PredicateSpec spec = email_predicate(config, columns);
  spec.phone = columns.phone;
  spec.created = columns.created;
  spec.created_zone = columns.created_zone;
  spec.expire_after = config.expire_after;
  spec.min_age = config.min_age;
  spec.expires = columns.expires;
  spec.expires_zone = columns.expires_zone;
  spec.expired_for = config.expired_for;
  for (const auto& condition : config.conditions) {
    spec.conditions.push_back(config::parse_condition(condition));
  }
  spec.condition_columns = columns.condition_columns;
  const auto normalized = [&](const std::vector<std::string>& values, auto clean) {
    std::vector<std::string> cleaned;
    cleaned.reserve(values.size());
    for (const auto& value : values) cleaned.push_back(clean(value));
    return normalized_list(executor, cleaned);
  };
  if (!config.exclude_emails.empty()) {
    spec.excluded_emails = normalized(config.exclude_emails, exclusion_email);
  }
  if (!config.exclude_domains.empty()) {
    spec.excluded_domains = normalized(config.exclude_domains, exclusion_domain);
  }
  return spec;
}

}  // namespace batch_cleanup::store::sql
