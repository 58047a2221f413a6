#include "store/postgres/pg_dependent_stats.h"

#include "store/postgres/pg_dialect.h"

namespace batch_cleanup::store::postgres {

PgDependentStats::PgDependentStats(const std::vector<DependentTable>& dependents) {
  for (const auto& edge : dependents) {
    if (edge.action != OnDelete::kCascade && edge.action != OnDelete::kSetNull &&
        edge.action != OnDelete::kSetDefault) {
      continue;
    }
    Table* table = nullptr;
    for (auto& have : tables_) {
      if (have.schema == edge.schema && have.name == edge.name) table = &have;
    }
    if (table == nullptr) {
      tables_.push_back({edge.table, edge.schema, edge.name});
      table = &tables_.back();
    }
    if (edge.action == OnDelete::kCascade) {
      table->cascade = true;
    } else if (table->update_action == nullptr) {
      table->update_action = edge.action == OnDelete::kSetNull ? "set null" : "set default";
    }
  }
}

void PgDependentStats::begin(PgSession& session) {
  if (!active()) return;
  mark_ = query(session);
  discount_ = mark_;
}

PgDependentStats::Counts PgDependentStats::query(PgSession& session) const {
  Counts counts{std::vector<std::int64_t>(tables_.size()),
                std::vector<std::int64_t>(tables_.size())};
  std::vector<std::string> schemas;
  std::vector<std::string> names;
  for (const auto& table : tables_) {
    schemas.push_back(table.schema);
    names.push_back(table.name);
  }
  const auto rows = session.exec(
      "SELECT t.ord - 1, pg_stat_get_xact_tuples_deleted(c.oid), "
      "pg_stat_get_xact_tuples_updated(c.oid) "
      "FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(schema_name, rel_name, ord) "
      "JOIN pg_namespace n ON n.nspname = t.schema_name "
      "JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.rel_name",
      {array_literal(schemas), array_literal(names)});
  for (int r = 0; r < rows.rows(); ++r) {
    const auto at = static_cast<std::size_t>(rows.integer(r, 0));
    if (at >= tables_.size()) continue;
    counts.deleted[at] = rows.integer(r, 1);
    counts.updated[at] = rows.integer(r, 2);
  }
  return counts;
}

void PgDependentStats::mark(PgSession& session) {
  if (active()) mark_ = query(session);
}

void PgDependentStats::rolled_back(PgSession& session) {
  if (!active()) return;
  const Counts now = query(session);
  for (std::size_t i = 0; i < tables_.size(); ++i) {
    discount_.deleted[i] += now.deleted[i] - mark_.deleted[i];
    discount_.updated[i] += now.updated[i] - mark_.updated[i];
  }
  mark_ = now;
}

std::vector<DependentCount> PgDependentStats::read(PgSession& session) {
  std::vector<DependentCount> out;
  if (!active()) return out;
  const Counts now = query(session);
  for (std::size_t i = 0; i < tables_.size(); ++i) {
    const auto& table = tables_[i];
    if (table.cascade) {
      out.push_back({table.table, "cascade", now.deleted[i] - discount_.deleted[i]});
    }
    if (table.update_action != nullptr) {
      out.push_back({table.table, table.update_action, now.updated[i] - discount_.updated[i]});
    }
  }
  return out;
}

}  // namespace batch_cleanup::store::postgres
