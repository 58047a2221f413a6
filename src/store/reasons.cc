#include "store/reasons.h"

#include <string>
#include <utility>
#include <vector>

namespace batch_cleanup::store {

void count_reason(const std::string& reason, PolicyCounts& counts, std::int64_t rows) {
  if (reason == kEmailReason) {
    counts.email += rows;
  } else if (reason == kPhoneReason) {
    counts.phone += rows;
  } else if (reason == kExpiredReason) {
    counts.expired += rows;
  }
}

std::string single_reason(const CleanupConfig& config) {
  const int policies = (config.match_email ? 1 : 0) + (config.match_phone ? 1 : 0) +
                       (config.expiry_policy() ? 1 : 0);
  if (policies != 1) return {};
  if (config.match_email) return kEmailReason;
  if (config.match_phone) return kPhoneReason;
  return kExpiredReason;
}

void tally_policies(BatchResult& result, const std::string& single) {
  const auto& by = result.deleted_by_policy;
  if (result.deleted == 0 || by.email + by.phone + by.expired == result.deleted) return;
  if (static_cast<std::int64_t>(result.deleted_rows.size()) == result.deleted) {
    for (const auto& row : result.deleted_rows) count_reason(row.reason, result.deleted_by_policy);
  } else {
    count_reason(single, result.deleted_by_policy, result.deleted);
  }
}

std::string normalized_email(EmailNormalization normalization, const std::string& column) {
  switch (normalization) {
    case EmailNormalization::kLower:
      return "lower(" + column + ")";
    case EmailNormalization::kLowerTrim:
      return "lower(trim(" + column + "))";
    case EmailNormalization::kCollation:  // the column's own equality
    case EmailNormalization::kNone:
      break;
  }
  return column;
}

bool rewrites_email(EmailNormalization normalization) {
  return normalization == EmailNormalization::kLower ||
         normalization == EmailNormalization::kLowerTrim;
}

std::string exclusion_email(const std::string& value) {
  const auto first = value.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return value.substr(first, value.find_last_not_of(" \t\r\n") - first + 1);
}

std::string exclusion_domain(const std::string& value) {
  auto domain = exclusion_email(value);
  if (!domain.empty() && domain.front() == '@') domain.erase(0, 1);
  return domain;
}

}  // namespace batch_cleanup::store
