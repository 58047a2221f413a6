#include "store/sql/predicate.h"

#include <functional>
#include <stdexcept>
#include <vector>

#include "store/reasons.h"
#include "store/sql/condition_sql.h"
#include "store/sql/dialect.h"

namespace batch_cleanup::store::sql {
namespace {

using Part = std::function<void(Builder&)>;

std::string column_of(std::string_view row, const std::string& column) {
  return std::string(row) + "." + column;
}

void append_email_exists(Builder& b, const PredicateSpec& spec, std::string_view row, Probe probe) {
  b.sql("EXISTS (SELECT 1 FROM " + spec.users + " u WHERE " +
        email_equal(b.dialect(), spec.normalize,
                    normalized_email(spec.normalize, "u." + spec.email),
                    normalized_email(spec.normalize, column_of(row, spec.email))));
  if (probe == Probe::kPerRow) b.sql(b.dialect().probe_fence());
  b.sql(")");
}

// An empty (or blank) phone never matches, even when a user has one too.
void append_phone_exists(Builder& b, const PredicateSpec& spec, std::string_view row, Probe probe) {
  const std::string phone = column_of(row, spec.phone);
  b.sql("(" + b.dialect().trim(phone) + " <> '' AND EXISTS (SELECT 1 FROM " + spec.users +
        " u WHERE u." + spec.phone + " = " + phone);
  if (probe == Probe::kPerRow) b.sql(b.dialect().probe_fence());
  b.sql("))");
}

void append_created_before(Builder& b, const PredicateSpec& spec, std::string_view row,
                           std::chrono::milliseconds age, const char* comparison,
                           const char* cutoff_slot) {
  b.dialect().created_instant(b, column_of(row, spec.created), spec.created_zone);
  b.sql(comparison);
  b.dialect().age_cutoff(b, age, cutoff_slot);
}

// The policies that are on, each with its reason, in reason order.
std::vector<std::pair<Part, const char*>> policies(const PredicateSpec& spec, std::string_view row,
                                                   Probe probe) {
  std::vector<std::pair<Part, const char*>> out;
  if (spec.match_email) {
    out.push_back({[&spec, row, probe](Builder& b) { append_email_exists(b, spec, row, probe); },
                   kEmailReason});
  }
  if (!spec.phone.empty()) {
    out.push_back({[&spec, row, probe](Builder& b) { append_phone_exists(b, spec, row, probe); },
                   kPhoneReason});
  }
  if (has_expiry(spec)) {
    out.push_back({[&spec, row](Builder& b) { append_expired(b, spec, row); }, kExpiredReason});
  }
  return out;
}

}  // namespace

std::string email_equal(const Dialect& dialect, EmailNormalization normalize,
                        const std::string& users_side, const std::string& pending_side) {
  if (normalize == EmailNormalization::kCollation) return users_side + " = " + pending_side;
  return dialect.text_equal(users_side, pending_side);
}

bool has_exemptions(const PredicateSpec& spec) {
  return !std::holds_alternative<std::monostate>(spec.excluded_emails) ||
         !std::holds_alternative<std::monostate>(spec.excluded_domains);
}

bool has_expiry(const PredicateSpec& spec) {
  return spec.expire_after.count() > 0 || spec.expired_for.has_value();
}

bool reads_clock(const PredicateSpec& spec) {
  return spec.min_age.count() > 0 || has_expiry(spec) || !spec.conditions.empty();
}

// Created more than expire_after ago, or (and) expired more than expired_for ago: OR-ed when
// both are on. A NULL expiry time never matches.
void append_expired(Builder& b, const PredicateSpec& spec, std::string_view row) {
  const bool both = spec.expire_after.count() > 0 && spec.expired_for.has_value();
  if (both) b.sql("(");
  if (spec.expire_after.count() > 0) {
    append_created_before(b, spec, row, spec.expire_after, " < ", kExpireCutoffSlot);
  }
  if (both) b.sql(" OR ");
  if (spec.expired_for) {
    b.dialect().created_instant(b, column_of(row, spec.expires), spec.expires_zone);
    b.sql(" < ");
    b.dialect().clock_minus(b, *spec.expired_for);
  }
  if (both) b.sql(")");
}

bool append_conditions(Builder& b, const PredicateSpec& spec, std::string_view row) {
  for (std::size_t i = 0; i < spec.conditions.size(); ++i) {
    if (i > 0) b.sql(" AND ");
    b.sql("(");
    append_condition(b, *spec.conditions[i], row, spec.condition_columns);
    b.sql(")");
  }
  return !spec.conditions.empty();
}

void append_old_enough(Builder& b, const PredicateSpec& spec, std::string_view row) {
  append_created_before(b, spec, row, spec.min_age, " <= ", kMinAgeCutoffSlot);
}

bool append_not_exempt(Builder& b, const PredicateSpec& spec, std::string_view row) {
  const Dialect& dialect = b.dialect();
  const std::string email = "lower(" + dialect.trim(column_of(row, spec.email)) + ")";
  bool appended = false;
  if (!std::holds_alternative<std::monostate>(spec.excluded_emails)) {
    b.sql("NOT coalesce(");
    dialect.in_list(b, email, spec.excluded_emails);
    b.sql(", " + dialect.false_value() + ")");
    appended = true;
  }
  if (!std::holds_alternative<std::monostate>(spec.excluded_domains)) {
    if (appended) b.sql(" AND ");
    b.sql("NOT coalesce(");
    dialect.domain_in_list(b, email, spec.excluded_domains);
    b.sql(", " + dialect.false_value() + ")");
    appended = true;
  }
  return appended;
}

namespace {

// What every predicate adds to its policies: --min-age, the --where conditions, then the
// exemptions.
void append_protections(Builder& b, const PredicateSpec& spec, std::string_view row) {
  if (spec.min_age.count() > 0) {
    b.sql(" AND ");
    append_old_enough(b, spec, row);
  }
  if (!spec.conditions.empty()) {
    b.sql(" AND ");
    append_conditions(b, spec, row);
  }
  if (has_exemptions(spec)) {
    b.sql(" AND ");
    append_not_exempt(b, spec, row);
  }
}

}  // namespace

void append_predicate(Builder& b, const PredicateSpec& spec, std::string_view row, Probe probe) {
  const auto parts = policies(spec, row, probe);
  if (parts.size() > 1) b.sql("(");
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) b.sql(" OR ");
    parts[i].first(b);
  }
  if (parts.size() > 1) b.sql(")");
  append_protections(b, spec, row);
}

void append_predicate_in_email_range(Builder& b, const PredicateSpec& spec, std::string_view row,
                                     const EmailRange& range) {
  if (!spec.match_email || spec.normalize != EmailNormalization::kNone || !spec.phone.empty() ||
      has_expiry(spec)) {
    throw std::logic_error("email ranges serve the exact email policy alone");
  }
  b.sql("EXISTS (SELECT 1 FROM " + spec.users + " u WHERE u." + spec.email + " = " +
        column_of(row, spec.email));
  if (range.after) b.sql(" AND u." + spec.email + " > ").slot("after").cast(range.type);
  if (range.upto) b.sql(" AND u." + spec.email + " <= ").slot("upto").cast(range.type);
  b.sql(")");
  append_protections(b, spec, row);
}

void append_reason(Builder& b, const PredicateSpec& spec, std::string_view row, Probe probe) {
  const auto parts = policies(spec, row, probe);
  if (parts.empty()) {
    b.sql("''");  // no policy matches anything (validate_config refuses such a configuration)
    return;
  }
  if (parts.size() == 1) {
    b.sql(std::string("'") + parts.front().second + "'");
    return;
  }
  b.sql("CASE");
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    b.sql(" WHEN ");
    parts[i].first(b);
    b.sql(std::string(" THEN '") + parts[i].second + "'");
  }
  b.sql(std::string(" ELSE '") + parts.back().second + "' END");
}

}  // namespace batch_cleanup::store::sql
