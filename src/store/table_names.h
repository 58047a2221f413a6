// The configured table and column names, validated and quoted once (both SQL stores).
#pragma once

#include <string>

#include "batch_cleanup/config.h"
#include "config/identifier.h"

namespace batch_cleanup::store {

struct TableNames {
  // Throws ConfigError for a name that is not a valid identifier.
  explicit TableNames(const CleanupConfig& config);
  config::QualifiedName pending;
  config::QualifiedName users;
  config::QualifiedName history;
  std::string key;      // quoted
  std::string email;    // quoted
  std::string phone;    // quoted; with --match phone
  std::string created;  // quoted; with --expire-after or --min-age
};

// Whether the configuration reads creation times (--expire-after or --min-age).
bool uses_created(const CleanupConfig& config);

}  // namespace batch_cleanup::store
