#include "store/sql/dependents_sql.h"

#include <algorithm>

#include "store/sql/dialect.h"

namespace batch_cleanup::store::sql {
namespace {

std::string alias(std::size_t level) { return "d" + std::to_string(level); }

std::string table_of(const Dialect& d, const DependentTable& edge) {
  return d.quote(config::QualifiedName{edge.schema, edge.name});
}

// "child.c1 = parent.p1 AND child.c2 = parent.p2"
std::string key_equal(const Dialect& d, const DependentTable& edge, std::string_view child,
                      std::string_view parent) {
  std::string out;
  for (std::size_t i = 0; i < edge.columns.size() && i < edge.parent_columns.size(); ++i) {
    if (i > 0) out += " AND ";
    out += std::string(child) + "." + d.quote(edge.columns[i]) + " = " + std::string(parent) + "." +
           d.quote(edge.parent_columns[i]);
  }
  return out;
}

}  // namespace

std::vector<const DependentTable*> dependent_path(const std::vector<DependentTable>& dependents,
                                                  int edge) {
  std::vector<const DependentTable*> path;
  for (int at = edge; at >= 0 && path.size() <= dependents.size();
       at = dependents[static_cast<std::size_t>(at)].via) {
    path.push_back(&dependents[static_cast<std::size_t>(at)]);
  }
  std::reverse(path.begin(), path.end());
  return path;
}

WalkParent walk_parent(const std::vector<DependentTable>& dependents, int parent_index,
                       const std::string& pending_name) {
  if (parent_index < 0) return {pending_name, 1};
  const auto& parent = dependents[static_cast<std::size_t>(parent_index)];
  return {parent.table, parent.depth + 1};
}

bool refuses(const DependentTable& edge) {
  return edge.action == OnDelete::kRestrict || edge.action == OnDelete::kNoAction;
}

void append_has_dependent(Builder& b, const std::vector<DependentTable>& dependents, int edge,
                          std::string_view row) {
  const Dialect& d = b.dialect();
  const auto path = dependent_path(dependents, edge);
  std::string parent(row);
  for (std::size_t level = 1; level <= path.size(); ++level) {
    const auto& step = *path[level - 1];
    b.sql("EXISTS (SELECT 1 FROM " + table_of(d, step) + " " + alias(level) + " WHERE " +
          key_equal(d, step, alias(level), parent));
    if (level < path.size()) b.sql(" AND ");
    parent = alias(level);
  }
  b.sql(std::string(path.size(), ')'));
}

void append_reaches_pending(Builder& b, const std::vector<DependentTable>& dependents, int edge,
                            std::string_view row, const std::string& pending,
                            const std::function<void(Builder&)>& condition) {
  const Dialect& d = b.dialect();
  const auto path = dependent_path(dependents, edge);
  const std::size_t k = path.size();
  const auto child = [&](std::size_t level) {
    return level == k ? std::string(row) : alias(level);
  };
  for (std::size_t level = k; level > 1; --level) {
    b.sql("EXISTS (SELECT 1 FROM " + table_of(d, *path[level - 2]) + " " + alias(level - 1) +
          " WHERE " + key_equal(d, *path[level - 1], child(level), alias(level - 1)) + " AND ");
  }
  b.sql("EXISTS (SELECT 1 FROM " + pending + " p WHERE " + key_equal(d, *path[0], child(1), "p") +
        " AND (");
  condition(b);
  b.sql("))" + std::string(k - 1, ')'));
}

void append_count_dependent_rows(Builder& b, const std::vector<DependentTable>& dependents,
                                 int edge, const std::string& pending,
                                 const std::function<void(Builder&)>& condition) {
  const auto path = dependent_path(dependents, edge);
  const std::size_t k = path.size();
  b.sql("SELECT count(*) FROM " + table_of(b.dialect(), *path[k - 1]) + " " + alias(k) + " WHERE ");
  append_reaches_pending(b, dependents, edge, alias(k), pending, condition);
}

void append_dependent_join(Builder& b, const std::vector<DependentTable>& dependents, int edge,
                           const std::string& pending) {
  const Dialect& d = b.dialect();
  const auto path = dependent_path(dependents, edge);
  const std::size_t k = path.size();
  b.sql(" FROM " + table_of(d, *path[k - 1]) + " " + alias(k));
  for (std::size_t level = k; level > 1; --level) {
    b.sql(" JOIN " + table_of(d, *path[level - 2]) + " " + alias(level - 1) + " ON " +
          key_equal(d, *path[level - 1], alias(level), alias(level - 1)));
  }
  b.sql(" JOIN " + pending + " p ON " + key_equal(d, *path[0], alias(1), "p"));
}

}  // namespace batch_cleanup::store::sql
