#include "store/table_names.h"

namespace batch_cleanup::store {

bool uses_created(const CleanupConfig& config) {
  return config.expire_after.count() > 0 || config.min_age.count() > 0;
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
}

}  // namespace batch_cleanup::store
