#include "engine/preflight_columns.h"

#include "batch_cleanup/errors.h"
#include "config/condition.h"

namespace batch_cleanup::engine {
namespace {

using store::PreflightFacts;
using store::TimeKind;

bool holds_times(TimeKind kind) {
  return kind != TimeKind::kNotATime && kind != TimeKind::kUnknown;
}

const PreflightFacts::ConditionColumnFacts* find_column(const PreflightFacts& facts,
                                                        const std::string& name) {
  for (const auto& column : facts.condition_columns) {
    if (column.name == name) return &column;
  }
  return nullptr;
}

// The comparisons of `node` against the columns' kinds.
void check_node(const std::string& text, const config::ConditionNode& node,
                const PreflightFacts& facts) {
  for (const auto& child : node.children) check_node(text, *child, facts);
  if (node.kind != config::ConditionNode::Kind::kCompare &&
      node.kind != config::ConditionNode::Kind::kIn) {
    return;
  }
  const auto* column = find_column(facts, node.column);
  if (column == nullptr) return;  // reported by the caller
  const bool now = std::holds_alternative<config::ConditionNow>(node.value) &&
                   node.kind == config::ConditionNode::Kind::kCompare;
  if (now && !holds_times(column->kind)) {
    throw ConfigError("--where '" + text + "': column '" + node.column + "' of '" +
                      facts.pending.name + "' has type " + column->column.type +
                      ", which holds no times: it cannot be compared with now(). HINT: compare a "
                      "timestamp, timestamptz or date column with now()");
  }
  if (!now && holds_times(column->kind)) {
    throw ConfigError("--where '" + text + "': column '" + node.column + "' of '" +
                      facts.pending.name + "' holds times (" + column->column.type +
                      "): compare it with now() or now() - interval '...', not with a literal");
  }
}

}  // namespace

void check_expiry_and_conditions(const CleanupConfig& config, const PreflightFacts& facts) {
  if (!config.expired_for && config.conditions.empty()) return;
  // Without a creation column, the zone's checks of check_policies did not run.
  if (!facts.created.checked) {
    if (!facts.capabilities.time_zones && config.created_time_zone != "UTC") {
      throw ConfigError("--created-time-zone '" + config.created_time_zone + "' works on " +
                        "PostgreSQL only: " + facts.capabilities.product +
                        " reads times without an offset as UTC");
    }
    if (!facts.created_time_zone_error.empty()) {
      throw ConfigError("invalid --created-time-zone '" + config.created_time_zone +
                        "': " + facts.created_time_zone_error);
    }
  }
  if (config.expired_for && facts.expires.checked) {
    if (!facts.expires.exists) {
      throw ConfigError("column '" + config.expires_column + "' does not exist in table '" +
                        facts.pending.name + "'. HINT: check --expires-column");
    }
    if (!holds_times(facts.expires_kind)) {
      throw ConfigError("column '" + config.expires_column + "' of '" + facts.pending.name +
                        "' has type " + facts.expires.type +
                        "; --expired-for needs a timestamp, timestamptz or date column. HINT: "
                        "check --expires-column");
    }
  }
  for (const auto& text : config.conditions) {
    const auto node = config::parse_condition(text);
    for (const auto& name : config::condition_columns(*node)) {
      const auto* column = find_column(facts, name);
      if (column != nullptr && column->column.checked && !column->column.exists) {
        throw ConfigError("--where '" + text + "': column '" + name +
                          "' does not exist in table '" + facts.pending.name +
                          "'. HINT: a condition names columns of the pending table" +
                          (facts.names_case_sensitive ? "; names are case-sensitive" : ""));
      }
    }
    check_node(text, *node, facts);
  }
}

}  // namespace batch_cleanup::engine
