#include "engine/preflight_dependents.h"

#include <fmt/format.h>

#include "batch_cleanup/errors.h"

namespace batch_cleanup::engine {

using store::OnDelete;

std::string on_delete_name(OnDelete action) {
  switch (action) {
    case OnDelete::kCascade:
      return "cascade";
    case OnDelete::kSetNull:
      return "set null";
    case OnDelete::kSetDefault:
      return "set default";
    case OnDelete::kRestrict:
      return "restrict";
    case OnDelete::kNoAction:
      return "no action";
  }
  return "no action";
}

bool refuses_delete(const store::DependentTable& edge) {
  return edge.action == OnDelete::kRestrict || edge.action == OnDelete::kNoAction;
}

std::string describe_edge(const store::DependentTable& edge) {
  std::string action = on_delete_name(edge.action);
  for (auto& c : action) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  return fmt::format("{}({}) -> {}({}) ON DELETE {}", edge.table, fmt::join(edge.columns, ", "),
                     edge.parent_table, fmt::join(edge.parent_columns, ", "), action);
}

namespace {

std::string consequence(const store::DependentTable& edge) {
  switch (edge.action) {
    case OnDelete::kCascade:
      return fmt::format("deleting a {} row deletes the {} rows that reference it",
                         edge.parent_table, edge.table);
    case OnDelete::kSetNull:
      return fmt::format("deleting a {} row sets {} to NULL in the {} rows that reference it",
                         edge.parent_table, fmt::join(edge.columns, ", "), edge.table);
    case OnDelete::kSetDefault:
      return fmt::format(
          "deleting a {} row sets {} to its default in the {} rows that reference it",
          edge.parent_table, fmt::join(edge.columns, ", "), edge.table);
    case OnDelete::kRestrict:
    case OnDelete::kNoAction:
      break;
  }
  return fmt::format(
      "a {} row that {} rows reference cannot be deleted: its delete is refused and the row "
      "kept",
      edge.parent_table, edge.table);
}

}  // namespace

std::vector<store::DependentTable> decide_dependents(const store::PreflightFacts& facts,
                                                     std::vector<std::string>& notes,
                                                     std::vector<std::string>& warnings) {
  if (facts.dependents.empty()) return {};
  if (!facts.foreign_keys_enforced) {
    std::vector<std::string> keys;
    for (const auto& edge : facts.dependents) {
      if (edge.depth == 1) keys.push_back(describe_edge(edge));
    }
    warnings.push_back(fmt::format(
        "foreign keys reference {} ({}), but this connection does not enforce foreign keys "
        "({} is off): deleting a row neither cascades, nor sets NULL or DEFAULT, nor is "
        "refused; the rows that reference it stay, pointing at a row that no longer exists. "
        "HINT: check why foreign keys are off for this database",
        facts.pending.name, fmt::join(keys, "; "), facts.foreign_keys_switch));
    return {};
  }
  if (facts.foreign_keys_per_connection) {
    notes.push_back(
        "this connection enforces foreign keys (SQLite enforces them per connection): its "
        "deletes cascade, set NULL or DEFAULT, or are refused as each key declares, even where the "
        "application's own connections leave PRAGMA foreign_keys off (SQLite's default)");
  }
  for (const auto& edge : facts.dependents) {
    notes.push_back(fmt::format("foreign key {}: {}", describe_edge(edge), consequence(edge)));
    if (!edge.indexed) {
      warnings.push_back(fmt::format(
          "no index on {}({}), the foreign key to {}: every delete of a {} row scans {} to {}. "
          "HINT: CREATE INDEX ON {} ({})",
          edge.table, fmt::join(edge.columns, ", "), edge.parent_table, edge.parent_table,
          edge.table,
          edge.action == OnDelete::kRestrict || edge.action == OnDelete::kNoAction
              ? "check for referencing rows"
              : "find the referencing rows",
          edge.table, fmt::join(edge.columns, ", ")));
    }
    if (facts.cascade_depth_limit > 0 && edge.depth >= facts.cascade_depth_limit &&
        !refuses_delete(edge)) {
      warnings.push_back(fmt::format(
          "foreign key {} lies {} keys below {}: {} refuses a delete whose cascade reaches "
          "that deep (at most {} levels), so a {} row with rows down there is refused and kept",
          describe_edge(edge), edge.depth, facts.pending.name, facts.capabilities.product,
          facts.cascade_depth_limit - 1, facts.pending.name));
    }
  }
  return facts.dependents;
}

void refuse_unarchived_cascades(const CleanupConfig& config,
                                const std::vector<store::DependentTable>& dependents) {
  if (config.archive_file.empty() || !config.archive_table.empty()) return;
  std::vector<std::string> cascades;
  for (const auto& edge : dependents) {
    if (edge.action == OnDelete::kCascade) cascades.push_back(describe_edge(edge));
  }
  if (cascades.empty()) return;
  throw ConfigError(fmt::format(
      "--archive-file keeps the deleted {} rows but not the rows that cascade with them ({}): "
      "they would be gone for good. HINT: add --archive-table T, which archives them to "
      "T__<table> in the same transaction (the file may stay)",
      config.pending_table, fmt::join(cascades, "; ")));
}

std::vector<DependentRows> dependent_rows(const std::vector<store::DependentTable>& dependents,
                                          const store::DependentCounts& counts) {
  std::vector<DependentRows> out;
  for (std::size_t i = 0; i < dependents.size(); ++i) {
    const auto& edge = dependents[i];
    DependentRows row;
    row.table = edge.table;
    row.parent_table = edge.parent_table;
    row.columns = edge.columns;
    row.action = on_delete_name(edge.action);
    row.depth = edge.depth;
    if (i < counts.rows.size()) row.rows = counts.rows[i];
    if (i < counts.refused.size()) row.refused = counts.refused[i];
    out.push_back(std::move(row));
  }
  return out;
}

std::string describe_dependent_rows(const DependentRows& rows) {
  std::string action = rows.action;
  for (auto& c : action) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  const std::string edge = fmt::format("{}({}) -> {} ON DELETE {}", rows.table,
                                       fmt::join(rows.columns, ", "), rows.parent_table, action);
  if (rows.action == "cascade") {
    return fmt::format("{}: {} row(s) would be deleted with them", edge, rows.rows);
  }
  if (rows.action == "set null" || rows.action == "set default") {
    return fmt::format("{}: {} row(s) would have {} set to {}", edge, rows.rows,
                       fmt::join(rows.columns, ", "),
                       rows.action == "set null" ? "NULL" : "their default");
  }
  return fmt::format(
      "{}: {} row(s) reference candidates; the delete of {} candidate(s) would be refused and "
      "they kept",
      edge, rows.rows, rows.refused);
}

}  // namespace batch_cleanup::engine
