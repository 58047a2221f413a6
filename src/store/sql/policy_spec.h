// The deletion predicate of a configuration: which policies and protections are on, over which
// columns, with the exemption lists as the database normalises them.
#pragma once

#include <string>

#include "batch_cleanup/config.h"
#include "store/sql/executor.h"
#include "store/sql/predicate.h"

namespace batch_cleanup::store::sql {

// Quoted names; `phone` and `created` empty where the configuration does not use them.
struct PredicateColumns {
  std::string users;
  std::string email;
  std::string phone;
  std::string created;
  std::string created_zone;            // the zone creation times without one are read in ("": none)
  std::string expires;                 // with --expired-for
  std::string expires_zone;            // the zone expiry times without one are read in ("": none)
  ConditionColumns condition_columns;  // with --where
};

// Only the email comparison (what preflight needs to count collisions).
PredicateSpec email_predicate(const CleanupConfig& config, const PredicateColumns& columns);

// Every policy and protection of `config`. Reads the exemption lists through the database
// (lowercased and trimmed by its own functions). Throws DatabaseError.
PredicateSpec policy_predicate(Executor& executor, const CleanupConfig& config,
                               const PredicateColumns& columns);

}  // namespace batch_cleanup::store::sql
