#include "engine/preflight.h"

#include <fmt/format.h>

#include "batch_cleanup/errors.h"
#include "config/duration.h"
#include "engine/preflight_columns.h"
#include "engine/preflight_dependents.h"
#include "engine/preflight_guards.h"
#include "store/reasons.h"

namespace batch_cleanup::engine {
namespace {

using store::PreflightFacts;
using store::RelationFacts;

// How long a batch waits for a row lock on its fast path (and, without UPDATE privilege, for
// each row) before it treats the row as held by another session.
constexpr long long kLockProbeWaitMs = 50;

void require_table(const PreflightFacts& facts, const RelationFacts& table, const char* what,
                   const char* flag) {
  if (table.exists) return;
  throw ConfigError(std::string(what) + " '" + table.name + "' does not exist" +
                    (facts.has_roles ? " (or is not visible to this role)" : "") +
                    ". HINT: check " + flag + " and the schema" +
                    (facts.names_case_sensitive ? "; names are case-sensitive"
                                                : " (an attached database name such as main)"));
}

void require_column(const store::ColumnFacts& column, const std::string& name,
                    const RelationFacts& table, const char* flag) {
  if (!column.checked || column.exists) return;
  throw ConfigError("column '" + name + "' does not exist in table '" + table.name +
                    "'. HINT: check " + flag);
}

void check_tables(const CleanupConfig& config, const PreflightFacts& facts) {
  require_table(facts, facts.pending, "pending table", "--pending-table");
  require_table(facts, facts.users, "users table", "--users-table");
  if (facts.same_relation) {
    throw GuardError("guard 'distinct-tables' refused to run: the users table '" +
                     facts.users.name + "' and the pending table '" + facts.pending.name +
                     "' are the same relation. HINT: point --users-table and --pending-table at "
                     "two different tables");
  }
  if (!facts.pending.is_table) {
    throw ConfigError("pending table '" + facts.pending.name + "' is not a table (" +
                      facts.pending.kind + ")");
  }
  require_column(facts.key, config.pending_key, facts.pending, "--pending-key");
  require_column(facts.pending_email, config.email_column, facts.pending, "--email-column");
  require_column(facts.users_email, config.email_column, facts.users, "--email-column");
}

void check_privileges(const CleanupConfig& config, const PreflightFacts& facts) {
  const std::string grantee = facts.grantee.empty() ? "<role>" : facts.grantee;
  if (!facts.pending.can_delete && !config.dry_run) {
    if (!facts.read_only_file.empty()) {
      throw ConfigError("permission denied: cannot delete from '" + facts.pending.name +
                        "': the SQLite database file '" + facts.read_only_file +
                        "' is read-only. HINT: check the permissions of the file and of its "
                        "directory (SQLite writes a journal next to the file)");
    }
    throw ConfigError("permission denied: the connected role has no DELETE privilege on '" +
                      facts.pending.name + "'. HINT: GRANT SELECT, DELETE ON " +
                      facts.pending.name + " TO " + grantee);
  }
  if (!facts.users.can_select || !facts.pending.can_select) {
    std::string hint;
    for (const auto* relation : {&facts.users, &facts.pending}) {
      if (!relation->can_select) {
        hint += (hint.empty() ? "" : "; ") + std::string("GRANT SELECT ON ") + relation->name +
                " TO " + grantee;
      }
    }
    throw ConfigError("permission denied: the connected role needs SELECT on '" + facts.users.name +
                      "' and '" + facts.pending.name + "'. HINT: " + hint);
  }
  if (config.dry_run || facts.missing_grants.empty()) return;
  std::string lacking;
  std::string grants;
  for (const auto& missing : facts.missing_grants) {
    lacking += fmt::format("{}{} on '{}' for {}", lacking.empty() ? "" : "; ", missing.privileges,
                           missing.table, missing.needed_for);
    grants += (grants.empty() ? "" : "; ") + missing.grant;
  }
  throw ConfigError("permission denied: the connected role lacks " + lacking + ". HINT: " + grants +
                    " (or run with --dry-run, which writes nothing)");
}

void check_policies(const CleanupConfig& config, const PreflightFacts& facts,
                    PreflightDecision& decision) {
  const auto& email_index = facts.users_email_index;
  if (email_index.checked && store::rewrites_email(config.normalize_email)) {
    const std::string served =
        email_index.served.empty()
            ? store::normalized_email(config.normalize_email, config.email_column)
            : email_index.served;
    decision.notes.push_back(email_index.present
                                 ? "an index on " + facts.users.name + " serves " + served
                                 : "no index on " + facts.users.name + " serves " + served +
                                       ": every probe reads the users table");
  }
  if (email_index.checked && !email_index.present) {
    if (!store::rewrites_email(config.normalize_email)) {
      decision.warnings.push_back(
          "no index on " + facts.users.name + "(" + config.email_column +
          "): every batch will scan the users table. HINT: " + email_index.advice);
    } else {
      const std::string shown =
          email_index.served.empty()
              ? store::normalized_email(config.normalize_email, config.email_column)
              : email_index.served;
      decision.warnings.push_back("no index on " + facts.users.name + " supports " + shown +
                                  " (--normalize-email): every batch will scan the users table. "
                                  "HINT: " +
                                  email_index.advice);
    }
  }
  if (facts.email_collisions > 0) {
    decision.warnings.push_back(
        std::to_string(facts.email_collisions) +
        " normalised email(s) are shared by several rows of " + facts.users.name +
        ": a pending row with such an email is deleted (its email exists in users); the users "
        "rows are not touched. HINT: --dry-run lists some of them");
  }
  if (config.match_phone) {
    require_column(facts.pending_phone, config.phone_column, facts.pending, "--phone-column");
    require_column(facts.users_phone, config.phone_column, facts.users, "--phone-column");
    if (facts.users_phone_index.checked && !facts.users_phone_index.present) {
      decision.warnings.push_back("no index on " + facts.users.name + "(" + config.phone_column +
                                  "): every batch will scan the users table for phones. HINT: " +
                                  facts.users_phone_index.advice);
    }
  }
  if (!facts.created.checked) return;
  require_column(facts.created, config.created_column, facts.pending, "--created-column");
  if (!facts.capabilities.time_zones && config.created_time_zone != "UTC") {
    throw ConfigError("--created-time-zone '" + config.created_time_zone +
                      "' works on PostgreSQL only: " + facts.capabilities.product +
                      " reads creation times without an offset as UTC. HINT: store times with "
                      "their offset (…+02:00), or in UTC");
  }
  if (facts.created_kind == store::TimeKind::kNotATime) {
    throw ConfigError("column '" + config.created_column + "' of '" + facts.pending.name +
                      "' has type " + facts.created.type +
                      "; --expire-after and --min-age need a timestamp, timestamptz or date "
                      "column. HINT: check --created-column");
  }
  if (facts.created_kind == store::TimeKind::kDate && config.min_age.count() > 0) {
    throw ConfigError("column '" + config.created_column + "' of '" + facts.pending.name +
                      "' is a date: --min-age cannot tell a sign-up made a minute ago from one "
                      "made this morning. HINT: use a timestamp column, or drop --min-age");
  }
  if (!facts.created_time_zone_error.empty()) {
    throw ConfigError("invalid --created-time-zone '" + config.created_time_zone +
                      "': " + facts.created_time_zone_error);
  }
}

// Email ranges pay off only where a run of consecutive emails shares heap pages (measured:
// 31 rows per page visited on the bench data, 1.1 with random emails, where they were 1.9x
// slower than ctid ranges), where the table is big enough for the shape to matter, and where
// the pending heap fits in shared_buffers: a range's pages are visited again by later ranges
// (this data: a page holds 65 rows, a range's run on it 31), which costs nothing in the buffer
// cache and a read (and the write of a dirty page evicted) outside it. On the bench data at the
// default 128 MB: 1M rows (15,384 pages, 94% of shared_buffers) 1.46 s with email ranges,
// 1.96 s with ctid ranges; 5M rows (78,876 pages, 4.8 times shared_buffers) 15.6 s and 9.4 s.
constexpr double kEmailRangesMinRowsPerPage = 4.0;
constexpr long long kEmailRangesMinPages = 1000;

// Why email ranges cannot run here; empty when they can.
std::string email_ranges_refusal(const CleanupConfig& config, const PreflightFacts& facts) {
  if (!facts.capabilities.email_ranges) {
    return "they need a server that joins two index ranges (" + facts.capabilities.product +
           " cannot)";
  }
  if (!config.match_email || config.match_phone || config.expiry_policy()) {
    return "they need the email policy alone";
  }
  if (config.normalize_email != EmailNormalization::kNone) {
    return "they compare emails exactly (no --normalize-email)";
  }
  if (!facts.pending_email_unique) {
    return "they walk a unique index on '" + config.email_column + "' of '" + facts.pending.name +
           "', and there is none";
  }
  if (!facts.users_email_index.present) {
    return "they need an index on '" + config.email_column + "' of '" + facts.users.name + "'";
  }
  return "";
}

// Physical ranges where the table and the server allow them; keyset batches elsewhere; email
// ranges where the email order's heap locality says they are cheaper.
void choose_addressing(const CleanupConfig& config, const PreflightFacts& facts,
                       PreflightDecision& decision) {
  const auto& capabilities = facts.capabilities;
  const bool rowid = capabilities.physical_order == store::PhysicalOrder::kRowid;
  const std::string physical_name = rowid ? "rowid" : "physical";
  const auto why_not = [&]() -> std::string {
    const auto physical = capabilities.physical_order == store::PhysicalOrder::kNone
                              ? store::PhysicalSupport::kNoPhysicalOrder
                              : facts.physical;
    switch (physical) {
      case store::PhysicalSupport::kPartitioned:
        return "needs a plain table, but '" + facts.pending.name + "' is partitioned";
      case store::PhysicalSupport::kWithoutRowid:
        return "needs a rowid table, but '" + facts.pending.name + "' is a WITHOUT ROWID table";
      case store::PhysicalSupport::kRowidShadowed:
        return "needs a rowid table, but '" + facts.pending.name +
               "' is a table whose rowid names are all shadowed";
      case store::PhysicalSupport::kServerTooOld:
        return "needs " + capabilities.physical_needs + ", but the server is " +
               facts.server_version;
      case store::PhysicalSupport::kNoPhysicalOrder:
        return "needs a physical row order to range over, and " + capabilities.product +
               " offers none";
      case store::PhysicalSupport::kAvailable:
        break;
    }
    return "";
  };
  const bool available = facts.physical == store::PhysicalSupport::kAvailable &&
                         capabilities.physical_order != store::PhysicalOrder::kNone;
  if (config.batch_strategy == BatchStrategy::kPhysical && !available) {
    throw ConfigError("--batch-strategy physical " + why_not() +
                      ". HINT: use --batch-strategy key or auto");
  }
  const std::string refusal = email_ranges_refusal(config, facts);
  if (config.batch_strategy == BatchStrategy::kEmail && !refusal.empty()) {
    throw ConfigError("--batch-strategy email cannot run: " + refusal +
                      ". HINT: use --batch-strategy auto");
  }
  const std::string locality =
      fmt::format("{:.1f} rows per heap page visited in email order, {} pages, shared_buffers {}",
                  facts.email_order_rows_per_page, facts.pending_pages, facts.shared_buffers_pages);
  // With several workers, email slices put every worker on the same heap pages (the rows of
  // a range of emails share pages across the whole table): at 1M rows with 2 workers, 2.07-2.55
  // s with email slices, 0.98-1.31 s with page slices (BENCHMARKS.md). auto keeps page slices.
  const bool fits = facts.pending_pages <= facts.shared_buffers_pages;
  const bool email_pays = refusal.empty() && config.workers <= 1 &&
                          facts.pending_pages >= kEmailRangesMinPages && fits &&
                          facts.email_order_rows_per_page >= kEmailRangesMinRowsPerPage;
  if (config.batch_strategy == BatchStrategy::kEmail ||
      (config.batch_strategy == BatchStrategy::kAuto && email_pays)) {
    decision.plan.addressing = store::Addressing::kEmailRanges;
    decision.plan.keyset_by_email = true;
    decision.strategy = "email";
    decision.notes.push_back(
        "batch shape: ranges of the email order (" + locality +
        "), each DELETE joining the range of pending with the same range of users" +
        (config.batch_strategy == BatchStrategy::kEmail ? " (as configured)" : ""));
    return;
  }
  const bool physical = config.batch_strategy != BatchStrategy::kKey && available;
  decision.plan.addressing = physical ? store::Addressing::kPhysical : store::Addressing::kKey;
  decision.strategy = physical ? physical_name : "key";
  if (physical) {
    std::string why_not_email;
    if (capabilities.email_ranges && config.batch_strategy == BatchStrategy::kAuto) {
      why_not_email =
          !refusal.empty()     ? "; not email ranges: " + refusal
          : config.workers > 1 ? "; not email ranges: with --workers, page slices keep the "
                                 "workers on different pages"
          : facts.pending_pages < kEmailRangesMinPages
              ? fmt::format("; not email ranges: fewer than {} pages", kEmailRangesMinPages)
          : !fits ? fmt::format(
                        "; not email ranges: the heap ({} pages) is larger than "
                        "shared_buffers ({} pages)",
                        facts.pending_pages, facts.shared_buffers_pages)
                  : fmt::format("; not email ranges: {} (fewer than {:.0f} rows per page)",
                                locality, kEmailRangesMinRowsPerPage);
    }
    decision.notes.push_back(
        (rowid ? std::string("batch shape: rowid ranges, each DELETE re-checking the predicate "
                             "per row")
               : "batch shape: ranges of the heap's ctid order (Tid Range Scan), each DELETE "
                 "probing the users index per pending row") +
        why_not_email);
    return;
  }
  // A keyset over the email order visits the users' email index in order (cheap, cached probes)
  // instead of in the random order of a uuid key. Rows without an email are then not visited,
  // which is right only when no policy can match them.
  const bool only_email_matches =
      config.match_email && !config.match_phone && !config.expiry_policy();
  decision.plan.keyset_by_email = capabilities.email_keyset && facts.pending_email_unique &&
                                  only_email_matches && config.email_column != config.pending_key;
  if (decision.plan.keyset_by_email) {
    decision.notes.push_back("batch shape: keyset over the unique index of '" +
                             config.email_column +
                             "' (email order: the probes of the users "
                             "index come in its order); rows locked by key '" +
                             config.pending_key + "'");
  } else {
    decision.notes.push_back(
        "batch shape: keyset over '" + config.pending_key + "'" +
        (!capabilities.email_keyset    ? ""
         : !only_email_matches         ? " (the phone or expired policy matches rows without an "
                                         "email, so the email order cannot be walked)"
         : !facts.pending_email_unique ? " (a unique index on '" + config.email_column +
                                             "' would let batches walk the email order, which "
                                             "is cheaper)"
                                       : ""));
  }
}

// On a Galera node: what the cluster is, and a batch size under its write-set limits (the rows
// a cascade deletes with them are not counted).
void decide_cluster(const CleanupConfig& config, const store::ClusterFacts& cluster,
                    PreflightDecision& decision) {
  if (!cluster.galera) return;
  std::int64_t rows = 0;
  std::string why;
  if (cluster.max_write_set_rows > 0) {
    rows = std::max<std::int64_t>(1, cluster.max_write_set_rows - cluster.own_rows_per_batch);
    why = fmt::format("wsrep_max_ws_rows {}, less {} row(s) of the lease",
                      cluster.max_write_set_rows, cluster.own_rows_per_batch);
  }
  if (cluster.max_write_set_bytes > 0 && cluster.bytes_per_row > 0) {
    // Half the byte limit: the average row length is an estimate.
    const std::int64_t by_size =
        std::max<std::int64_t>(1, cluster.max_write_set_bytes / 2 / cluster.bytes_per_row);
    if (rows == 0 || by_size < rows) {
      rows = by_size;
      why = fmt::format("wsrep_max_ws_size {} bytes, about {} bytes a row",
                        cluster.max_write_set_bytes, cluster.bytes_per_row);
    }
  }
  std::string limit = "no write-set row limit";
  if (rows > 0) {
    decision.plan.max_batch_rows = rows;
    limit = rows < config.batch_size ? fmt::format("batches clamped from {} to {} rows ({})",
                                                   config.batch_size, rows, why)
                                     : fmt::format("batches of at most {} rows ({})", rows, why);
  }
  const bool watched =
      config.max_replication_lag.count() > 0 || config.max_replication_lag_bytes > 0;
  decision.notes.push_back(fmt::format(
      "Galera cluster of {} node(s), this one {}: {}; {}", cluster.nodes, cluster.state, limit,
      watched ? "pausing between batches while flow control holds the cluster or this node's "
                "receive queue is long (--max-replication-lag)"
              : "flow control not watched (--max-replication-lag turns it on)"));
}

}  // namespace

PreflightDecision decide_preflight(const CleanupConfig& config, const PreflightFacts& facts) {
  if (!facts.capabilities.oldest_supported.empty()) {
    throw ConfigError(facts.capabilities.product + " " + facts.server_version +
                      " is not supported: batch_cleanup needs " +
                      facts.capabilities.oldest_supported + " or later. HINT: upgrade the server");
  }
  PreflightDecision decision;
  check_tables(config, facts);
  check_distinct_reads(config, facts, decision.warnings);
  if (facts.users_reads.size() > 1) {
    decision.notes.push_back(fmt::format("users table '{}' reads {} (none of them read by '{}')",
                                         facts.users.name, fmt::join(facts.users_reads, ", "),
                                         facts.pending.name));
  }
  check_privileges(config, facts);
  check_expiry_and_conditions(config, facts);
  if (!facts.key_unique) {
    throw GuardError("guard 'unique-key' refused to run: the key column '" + config.pending_key +
                     "' of '" + facts.pending.name +
                     "' has no unique index, so a key may name several rows. HINT: pass the "
                     "primary key column with --pending-key, or add a UNIQUE constraint");
  }
  decision.email_comparison = check_email_comparison(config, facts);
  if (!decision.email_comparison.empty()) {
    decision.notes.push_back("email comparison: " + decision.email_comparison);
  }
  check_policies(config, facts, decision);
  choose_addressing(config, facts, decision);
  // The server's limits (the role's, the database's) win when lower, unless the operator chose.
  std::string timeouts;
  const auto effective = [&](std::chrono::milliseconds configured, bool set,
                             std::chrono::milliseconds server, const char* name) {
    const bool servers = !set && server.count() > 0 && server < configured;
    timeouts += fmt::format("{}{} {} ({})", timeouts.empty() ? "" : ", ", name,
                            config::format_duration(servers ? server : configured),
                            servers ? "the role's or database's, lower than the default " +
                                          config::format_duration(configured)
                            : set ? "as configured"
                                  : "the default");
    return servers ? server : configured;
  };
  decision.plan.statement_timeout =
      effective(config.statement_timeout, config.statement_timeout_set,
                facts.server_statement_timeout, "statement_timeout");
  decision.plan.lock_timeout = effective(config.lock_timeout, config.lock_timeout_set,
                                         facts.server_lock_timeout, "lock_timeout");
  decision.notes.push_back("timeouts: " + timeouts);
  if (config.match_email && config.normalize_email == EmailNormalization::kNone &&
      (!facts.pending_email.collation.empty() || !facts.users_email.collation.empty())) {
    decision.notes.push_back("emails compared byte for byte, whatever the collations (pending '" +
                             config.email_column + "': " + facts.pending_email.collation +
                             ", users '" + config.email_column +
                             "': " + facts.users_email.collation + ")");
  }
  decide_cluster(config, facts.cluster, decision);
  decision.dependents = decide_dependents(facts, decision.notes, decision.warnings);
  refuse_unarchived_cascades(config, decision.dependents);
  decision.plan.lock_probe_wait_ms =
      std::min<long long>(kLockProbeWaitMs, decision.plan.lock_timeout.count());
  decision.plan.archive = !config.archive_table.empty() && !config.dry_run;
  if (!config.dry_run) decision.plan.dependents = decision.dependents;
  // FOR UPDATE SKIP LOCKED needs UPDATE on the pending table. Without it, a row another session
  // holds is found by a short lock wait instead (and skipped just the same).
  decision.plan.skip_locked = facts.capabilities.skip_locked && facts.pending.can_update;
  if (facts.capabilities.skip_locked && !facts.pending.can_update) {
    decision.warnings.push_back(fmt::format(
        "the role has no UPDATE privilege on {}: rows that other sessions hold locked are "
        "detected by a {} ms lock wait each instead of SKIP LOCKED. HINT: GRANT UPDATE ON {} TO "
        "<role> (batch_cleanup never updates a row)",
        facts.pending.name, kLockProbeWaitMs, facts.pending.name));
  }
  return decision;
}

void check_restore_tables(const CleanupConfig& config, const PreflightFacts& facts) {
  check_tables(config, facts);
  if (!facts.pending.can_insert && !config.dry_run) {
    if (!facts.read_only_file.empty()) {
      throw ConfigError("permission denied: cannot restore into '" + facts.pending.name +
                        "': the SQLite database file '" + facts.read_only_file +
                        "' is read-only. HINT: check the permissions of the file and of its "
                        "directory");
    }
    throw ConfigError("permission denied: the connected role has no INSERT privilege on '" +
                      facts.pending.name + "'. HINT: restore needs INSERT on " +
                      facts.pending.name + " and SELECT, DELETE on the archive table: GRANT " +
                      "INSERT ON " + facts.pending.name + " TO <role>");
  }
}

void check_archive_table(const store::ArchiveFacts& facts) {
  if (!facts.required_database.empty()) {
    throw ConfigError("invalid --archive-table '" + facts.name +
                      "': on SQLite the archive table must be in the pending table's database ('" +
                      facts.required_database + "')");
  }
  if (facts.is_cleaned_table) {
    throw ConfigError("invalid --archive-table '" + facts.name +
                      "': it is the users or pending table; use a table of its own");
  }
  if (!facts.missing_columns.empty()) {
    throw ConfigError("archive table '" + facts.name + "' has no column '" +
                      facts.missing_columns.front() +
                      "'. HINT: an archive table needs the pending table's columns plus "
                      "archived_at, cycle_id and reason; name a new table and it is created");
  }
}

}  // namespace batch_cleanup::engine
