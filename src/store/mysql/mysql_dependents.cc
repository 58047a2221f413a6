#include "store/mysql/mysql_dependents.h"

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <utility>

#include "store/sql/dependents_sql.h"

namespace batch_cleanup::store::mysql {
namespace {

// One level deeper than InnoDB cascades, so that a key it would refuse is reported; a cycle of
// CASCADE keys stops at a table already walked.
constexpr int kMaxDepth = kInnodbCascadeDepthLimit + 1;

OnDelete on_delete(const std::string& rule) {
  if (rule == "CASCADE") return OnDelete::kCascade;
  if (rule == "SET NULL") return OnDelete::kSetNull;
  if (rule == "SET DEFAULT") return OnDelete::kSetDefault;  // InnoDB stores it as RESTRICT
  if (rule == "RESTRICT") return OnDelete::kRestrict;
  return OnDelete::kNoAction;
}

// An index of `schema`.`table` whose leading columns are exactly `columns` (in any order).
bool indexed(MysqlSession& session, const std::string& schema, const std::string& table,
             const std::vector<std::string>& columns) {
  const auto rows = session.exec(
      "SELECT index_name, column_name FROM information_schema.statistics WHERE table_schema = ? "
      "AND table_name = ? AND seq_in_index <= ? AND sub_part IS NULL ORDER BY index_name, "
      "seq_in_index",
      {schema, table, static_cast<std::int64_t>(columns.size())});
  std::map<std::string, std::set<std::string>> leading;
  for (std::size_t r = 0; r < rows.size(); ++r) leading[rows.text(r, 0)].insert(rows.text(r, 1));
  const std::set<std::string> wanted(columns.begin(), columns.end());
  return std::any_of(leading.begin(), leading.end(),
                     [&](const auto& index) { return index.second == wanted; });
}

}  // namespace

void inspect_dependents(MysqlSession& session, const std::string& schema, const std::string& table,
                        const std::string& pending_name, PreflightFacts& facts) {
  facts.foreign_keys_enforced = session.exec("SELECT @@foreign_key_checks").integer(0, 0) != 0;
  facts.foreign_keys_switch = "foreign_key_checks";
  facts.cascade_depth_limit = kInnodbCascadeDepthLimit;
  auto& out = facts.dependents;
  // (schema, table) of each parent, and its index in `out` (-1: the pending table).
  std::deque<std::pair<std::pair<std::string, std::string>, int>> parents{{{schema, table}, -1}};
  std::set<std::pair<std::string, std::string>> walked{{schema, table}};
  while (!parents.empty()) {
    const auto [parent, parent_index] = parents.front();
    parents.pop_front();
    const auto [parent_name, depth] = sql::walk_parent(out, parent_index, pending_name);
    // One row per column of each key referencing the parent, in the key's order.
    const auto rows = session.exec(
        "SELECT k.table_schema, k.table_name, k.constraint_name, rc.delete_rule, k.column_name, "
        "k.referenced_column_name FROM information_schema.key_column_usage k JOIN "
        "information_schema.referential_constraints rc ON rc.constraint_schema = "
        "k.constraint_schema AND rc.constraint_name = k.constraint_name AND rc.table_name = "
        "k.table_name WHERE k.referenced_table_schema = ? AND k.referenced_table_name = ? ORDER "
        "BY k.table_schema, k.table_name, k.constraint_name, k.ordinal_position",
        {parent.first, parent.second});
    const std::size_t first = out.size();
    for (std::size_t r = 0; r < rows.size(); ++r) {
      const bool same_key = out.size() > first && out.back().schema == rows.text(r, 0) &&
                            out.back().name == rows.text(r, 1) &&
                            out.back().constraint == rows.text(r, 2);
      if (!same_key) {
        DependentTable edge;
        edge.schema = rows.text(r, 0);
        edge.name = rows.text(r, 1);
        edge.table = edge.schema == schema ? edge.name : edge.schema + "." + edge.name;
        edge.constraint = rows.text(r, 2);
        edge.action = on_delete(rows.text(r, 3));
        edge.parent_table = parent_name;
        edge.depth = depth;
        edge.via = parent_index;
        out.push_back(std::move(edge));
      }
      out.back().columns.push_back(rows.text(r, 4));
      out.back().parent_columns.push_back(rows.text(r, 5));
    }
    for (std::size_t c = first; c < out.size(); ++c) {
      auto& edge = out[c];
      edge.indexed = indexed(session, edge.schema, edge.name, edge.columns);
      if (edge.action != OnDelete::kCascade || depth >= kMaxDepth) continue;
      if (!walked.insert({edge.schema, edge.name}).second) continue;
      parents.push_back({{edge.schema, edge.name}, static_cast<int>(c)});
    }
  }
}

}  // namespace batch_cleanup::store::mysql
