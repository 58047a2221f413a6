#include "store/table_names.h"

#include <algorithm>

#include "config/condition.h"

namespace batch_cleanup::store {

bool uses_created(const CleanupConfig& config) {
  return config.expire_after.count() > 0 || config.min_age.count() > 0;
}

std::vector<std::string> condition_column_names(const CleanupConfig& config) {
  std::vector<std::string> out;
  for (const auto& condition : config.conditions) {
    for (auto& name : config::condition_columns(*config::parse_condition(condition))) {
      if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(std::move(name));
    }
  }
  return out;
}

TableNames::TableNames(const CleanupConfig& config, const sql::Dialect& dialect)
    : pending(config::parse_table_name(config.pending_table, "pending table")),
      users(config::parse_table_name(config.users_table, "users table")),
      history(config::parse_table_name(config.history_table, "history table")),
      key(dialect.quote(config::validate_identifier(config.pending_key, "pending key"))),
      email(dialect.quote(config::validate_identifier(config.email_column, "email column"))) {
  if (config.match_phone) {
    phone = dialect.quote(config::validate_identifier(config.phone_column, "phone column"));
  }
  if (uses_created(config)) {
    created = dialect.quote(config::validate_identifier(config.created_column, "created column"));
  }
  if (config.expired_for) {
    expires = dialect.quote(config::validate_identifier(config.expires_column, "expires column"));
  }
}

}  // namespace batch_cleanup::store
