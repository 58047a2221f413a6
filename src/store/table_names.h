// The configured table and column names, validated once, and quoted by the store's dialect (both
// SQL stores).
#pragma once

#include <string>
#include <vector>

#include "batch_cleanup/config.h"
#include "config/identifier.h"
#include "store/sql/dialect.h"

namespace batch_cleanup::store {

struct TableNames {
  // Throws ConfigError for a name that is not a valid identifier.
  TableNames(const CleanupConfig& config, const sql::Dialect& dialect);
  config::QualifiedName pending;
  config::QualifiedName users;
  config::QualifiedName history;
  std::string key;      // quoted
  std::string email;    // quoted
  std::string phone;    // quoted; with --match phone
  std::string created;  // quoted; with --expire-after or --min-age
  std::string expires;  // quoted; with --expired-for
};

// Whether the configuration reads creation times (--expire-after or --min-age).
bool uses_created(const CleanupConfig& config);

// The columns the --where conditions name, each once (empty without conditions). Throws
// ConfigError for a condition outside the language.
std::vector<std::string> condition_column_names(const CleanupConfig& config);

}  // namespace batch_cleanup::store
