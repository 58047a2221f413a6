// The deletion predicate, written once for every backend: the policies (email, phone, expired)
// OR-ed, then the protections (min-age, exemptions) AND-ed, over the pending row `row` (p, or
// OLD in a trigger). Every batch's DELETE re-checks it; dry runs count with it.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "batch_cleanup/config.h"
#include "config/condition.h"
#include "store/sql/builder.h"
#include "store/sql/value.h"

namespace batch_cleanup::store::sql {

// The slots a dialect that fixes "now" per batch binds the creation-time cutoffs to.
inline constexpr const char* kExpireCutoffSlot = "expire_cutoff";
inline constexpr const char* kMinAgeCutoffSlot = "min_age_cutoff";

// A column a --where condition names: quoted, and whether it holds times (compared with now()),
// read in `zone` when stored without one ("": carries its own, or the dialect reads UTC).
struct ConditionColumn {
  std::string quoted;
  bool time = false;
  std::string zone;
};
using ConditionColumns = std::map<std::string, ConditionColumn, std::less<>>;

// What the predicate compares. Names are quoted; an empty column means the policy is off.
struct PredicateSpec {
  std::string users;        // the users table
  std::string email;        // the email column (both tables)
  bool match_email = true;  // policy 'email'
  std::string phone;        // the phone column (both tables); empty: policy 'phone' off
  std::string created;      // the creation column; empty without expiry and min-age
  EmailNormalization normalize = EmailNormalization::kNone;
  std::chrono::milliseconds expire_after{0};  // zero: policy 'expired' off
  std::chrono::milliseconds min_age{0};       // zero: no in-flight protection
  std::string created_zone;  // the zone a creation time without one is read in; "": none
  Value excluded_emails;     // Dialect::list_value() of the exempt emails; NULL: none
  Value excluded_domains;    // ... of the exempt domains
  // Policy 'expired' on the application's expiry column: `expires` (quoted) lies more than
  // expired_for in the past. nullopt: off.
  std::string expires;
  std::string expires_zone;
  std::optional<std::chrono::milliseconds> expired_for;
  // The --where conditions (every one must hold), over `condition_columns`.
  std::vector<config::ConditionPtr> conditions;
  ConditionColumns condition_columns;
};

// Whether policy 'expired' is on (by creation time, by the expiry column, or both).
bool has_expiry(const PredicateSpec& spec);
// Whether the predicate reads the database's clock (cutoffs and now()).
bool reads_clock(const PredicateSpec& spec);

// How the users table is probed: in batches, once per pending row (PostgreSQL must not turn
// a batch's EXISTS into a join of the whole users table); in dry runs, any way the planner likes.
enum class Probe { kAny, kPerRow };

// The email comparison of `users_side` and `pending_side` (both already normalised): under the
// columns' own collation with --normalize-email collation (plain =), byte for byte otherwise
// (Dialect::text_equal).
std::string email_equal(const Dialect& dialect, EmailNormalization normalize,
                        const std::string& users_side, const std::string& pending_side);

// The predicate as a whole.
void append_predicate(Builder& b, const PredicateSpec& spec, std::string_view row, Probe probe);

// A window of the pending email order: (slot "after", slot "upto"], either end open; values
// cast as `type`.
struct EmailRange {
  bool after = false;
  bool upto = false;
  std::string type;
};
// The predicate for rows whose email lies in `range`, with the users side bounded by the same
// range, so that the planner can join the two index ranges (merge or hash) instead of probing
// users once per row. The exact email policy alone (no normalisation, phone or expiry: throws
// std::logic_error otherwise), with --min-age and the exemptions.
void append_predicate_in_email_range(Builder& b, const PredicateSpec& spec, std::string_view row,
                                     const EmailRange& range);
// The reason of a row the predicate matches: the first policy that matches, in the order email,
// phone, expired (the last one needs no test of its own, so it binds nothing the policies
// before it do not).
void append_reason(Builder& b, const PredicateSpec& spec, std::string_view row, Probe probe);

// The parts, for the dry run's per-policy counts. Each appends a boolean expression.
void append_expired(Builder& b, const PredicateSpec& spec, std::string_view row);
void append_old_enough(Builder& b, const PredicateSpec& spec, std::string_view row);
// True when the row satisfies every --where condition. Appends nothing (and returns false)
// without conditions.
bool append_conditions(Builder& b, const PredicateSpec& spec, std::string_view row);
// True when the row is not exempt. Appends nothing (and returns false) without exemptions.
bool append_not_exempt(Builder& b, const PredicateSpec& spec, std::string_view row);

bool has_exemptions(const PredicateSpec& spec);

}  // namespace batch_cleanup::store::sql
