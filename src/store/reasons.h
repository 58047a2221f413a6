// Why a row is deleted: recorded with every archived row (table and file), in debug logs, and
// counted per policy. A row several policies match gets the first: email, phone, expired.
#pragma once

#include <cstdint>
#include <string>

#include "batch_cleanup/config.h"
#include "batch_cleanup/report.h"
#include "store/batch_types.h"

namespace batch_cleanup::store {

inline constexpr const char* kEmailReason = "email exists in users";
inline constexpr const char* kPhoneReason = "phone exists in users";
inline constexpr const char* kExpiredReason = "expired";

// Adds `rows` rows deleted for `reason` (a k*Reason text) to `counts`.
void count_reason(const std::string& reason, PolicyCounts& counts, std::int64_t rows = 1);
// The reason of a configuration with a single policy; empty when several are on.
std::string single_reason(const CleanupConfig& config);
// Fills result.deleted_by_policy (unless the store already counted every deleted row) from the
// reasons of result.deleted_rows, or, when the store did not return the rows (a single
// policy), credits every deleted row to `single`.
void tally_policies(BatchResult& result, const std::string& single);
// `column` under --normalize-email: column, lower(column) or lower(trim(column)), in SQL both
// backends read (PostgreSQL reads trim(x) as btrim(x)).
std::string normalized_email(EmailNormalization normalization, const std::string& column);
// Whether --normalize-email rewrites the email (lower, lower-trim) rather than comparing the
// columns as they are (none, collation).
bool rewrites_email(EmailNormalization normalization);
// An --exclude-email value as compared: spaces and tabs around it removed (the store
// lowercases it with the database's own lower()).
std::string exclusion_email(const std::string& value);
// An --exclude-domain value as compared: also without a leading '@'.
std::string exclusion_domain(const std::string& value);

}  // namespace batch_cleanup::store
