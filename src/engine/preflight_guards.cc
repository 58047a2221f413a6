#include "engine/preflight_guards.h"

#include <fmt/format.h>

#include "batch_cleanup/errors.h"
#include "config/email_normalization.h"
#include "store/reasons.h"

namespace batch_cleanup::engine {
namespace {

using store::ColumnFacts;
using store::PreflightFacts;

// The column's type and collation as the operator would write them: text COLLATE "ci".
std::string column_words(const ColumnFacts& column) {
  std::string out = column.type.empty() ? "(type unknown)" : column.type;
  if (!column.collation.empty()) {
    out += " collate \"" + column.collation + "\"";
  } else if (!column.collation_exact) {
    out += " (an expression whose collation cannot be told)";
  }
  if (column.case_insensitive_type) {
    out += " (a case-insensitive type)";
  } else if (!column.collation_exact && !column.collation.empty()) {
    out += " (nondeterministic)";
  }
  return out;
}

// Whether the comparison of `column` under `normalization` is not byte equality of what
// --normalize-email promises: a collation whose = is not byte equality (kept through lower() on
// backends whose functions keep the column's collation), or a type whose = ignores case (lower()
// reads it as text).
bool inexact(const ColumnFacts& column, EmailNormalization normalization,
             const PreflightFacts& facts) {
  const bool rewritten = store::rewrites_email(normalization);
  if (!column.collation_exact && (!rewritten || facts.capabilities.functions_keep_collation)) {
    return true;
  }
  return column.case_insensitive_type && !rewritten;
}

}  // namespace

void check_distinct_reads(const CleanupConfig& config, const PreflightFacts& facts,
                          std::vector<std::string>& warnings) {
  if (!facts.shared_reads.empty()) {
    throw GuardError(fmt::format(
        "guard 'distinct-tables' refused to run: the users table '{}' ({}) reads {}, which the "
        "pending table '{}' reads too, so every pending row would find itself in users. HINT: "
        "point --users-table at the real users table, not at a view, copy, parent or child of "
        "the pending table",
        facts.users.name, facts.users.kind, fmt::join(facts.shared_reads, ", "),
        facts.pending.name));
  }
  if (facts.unverified_reads.empty()) return;
  if (!config.allow_unverified_users_table) {
    throw GuardError(fmt::format(
        "guard 'distinct-tables' refused to run: the users table '{}' reads {}, and what that "
        "reads cannot be followed, so nothing proves it is not the pending table '{}'. HINT: "
        "point --users-table at a local table, or pass --allow-unverified-users-table if you "
        "know it does not read the pending table",
        facts.users.name, fmt::join(facts.unverified_reads, ", "), facts.pending.name));
  }
  warnings.push_back(
      fmt::format("guard 'distinct-tables' did not verify what the users table '{}' reads through "
                  "{} (--allow-unverified-users-table)",
                  facts.users.name, fmt::join(facts.unverified_reads, ", ")));
}

std::string check_email_comparison(const CleanupConfig& config, const PreflightFacts& facts) {
  if (!config.match_email) return "";
  const ColumnFacts& users = facts.users_email;
  const ColumnFacts& pending = facts.pending_email;
  const std::string& column = config.email_column;
  std::string comparison =
      store::normalized_email(config.normalize_email, facts.users.name + "." + column) + " = " +
      store::normalized_email(config.normalize_email, facts.pending.name + "." + column);
  if (!facts.email_equality.empty()) comparison += " (as " + facts.email_equality + ")";
  const std::string columns =
      fmt::format("{}.{} is {}, {}.{} is {}", facts.users.name, column, column_words(users),
                  facts.pending.name, column, column_words(pending));
  const bool users_inexact = inexact(users, config.normalize_email, facts);
  const bool pending_inexact = inexact(pending, config.normalize_email, facts);
  if (config.normalize_email == EmailNormalization::kCollation) {
    if (facts.capabilities.collations_mix_silently && users.collation != pending.collation) {
      throw GuardError(fmt::format(
          "guard 'exact-email' refused to run: --normalize-email collation compares the emails "
          "under the columns' collation, but {}: {} would silently compare them under one of the "
          "two (a _bin collation wins over a _ci one, so the case-insensitive "
          "match you accept would not happen), or refuse the mix. HINT: give both email columns "
          "the same collation, or pass --normalize-email none (bytes) or lower",
          columns, facts.capabilities.product));
    }
    return comparison + ", by the columns' own equality (--normalize-email collation): " + columns;
  }
  if (users_inexact || pending_inexact) {
    const ColumnFacts& culprit = users_inexact ? users : pending;
    const std::string& table = users_inexact ? facts.users.name : facts.pending.name;
    throw GuardError(fmt::format(
        "guard 'exact-email' refused to run: --normalize-email {} promises {}, but {}.{} is {}, "
        "whose = is not byte equality: it would match emails that differ (such as josé and "
        "jose, or Alice and alice) and delete those pending rows. HINT: pass --normalize-email "
        "collation to accept the column's equality, or give the column a deterministic "
        "collation",
        config::normalization_flag(config.normalize_email),
        store::rewrites_email(config.normalize_email) ? "a comparison of the lowercased emails"
                                                      : "a byte-for-byte comparison",
        table, column, column_words(culprit)));
  }
  return comparison +
         (store::rewrites_email(config.normalize_email) ? ", the lowercased values byte for byte: "
                                                        : ", byte for byte: ") +
         columns;
}

}  // namespace batch_cleanup::engine
