#include "store/sqlite/sqlite_dependents.h"

#include <algorithm>
#include <deque>
#include <utility>

#include "store/sql/dependents_sql.h"

namespace batch_cleanup::store::sqlite {
namespace {

constexpr int kMaxDepth = 16;

OnDelete on_delete(const std::string& action) {
  if (equal_nocase(action, "CASCADE")) return OnDelete::kCascade;
  if (equal_nocase(action, "SET NULL")) return OnDelete::kSetNull;
  if (equal_nocase(action, "SET DEFAULT")) return OnDelete::kSetDefault;
  if (equal_nocase(action, "RESTRICT")) return OnDelete::kRestrict;
  return OnDelete::kNoAction;
}

// How messages name a table: the schema only when it is not main.
std::string display(const Table& table) {
  return equal_nocase(table.schema, "main") ? table.name : table.schema + "." + table.name;
}

// The referenced columns a key leaves out ("REFERENCES parent" without a column list): the
// parent's primary key, in its order.
std::vector<std::string> primary_key(const Table& table) {
  std::vector<const ColumnInfo*> key;
  for (const auto& column : table.columns) {
    if (column.pk > 0) key.push_back(&column);
  }
  std::sort(key.begin(), key.end(),
            [](const ColumnInfo* a, const ColumnInfo* b) { return a->pk < b->pk; });
  std::vector<std::string> names;
  names.reserve(key.size());
  for (const auto* column : key) names.push_back(column->name);
  if (names.empty()) names.emplace_back("rowid");
  return names;
}

// An index (not partial) leads with exactly `columns`, or the one column is the rowid alias.
bool indexed(SqliteConnection& connection, const Table& table,
             const std::vector<std::string>& columns) {
  if (columns.size() == 1) {
    const ColumnInfo* column = table.find(columns.front());
    if (column != nullptr && table.is_rowid_alias(*column)) return true;
  }
  SqliteStatement list(connection, "SELECT name FROM pragma_index_list(?1, ?2) WHERE partial = 0");
  list.bind(1, table.name).bind(2, table.schema);
  std::vector<std::string> names;
  while (list.step()) names.push_back(list.text(0));
  for (const auto& index : names) {
    SqliteStatement info(connection,
                         "SELECT name FROM pragma_index_info(?1, ?2) WHERE seqno < ?3 "
                         "ORDER BY seqno");
    info.bind(1, index).bind(2, table.schema).bind(3, static_cast<std::int64_t>(columns.size()));
    std::size_t matched = 0;
    std::size_t leading = 0;
    while (info.step()) {
      ++leading;
      if (info.is_null(0)) continue;
      const std::string name = info.text(0);
      matched += static_cast<std::size_t>(
          std::count_if(columns.begin(), columns.end(),
                        [&](const std::string& column) { return equal_nocase(column, name); }));
    }
    if (leading == columns.size() && matched == columns.size()) return true;
  }
  return false;
}

}  // namespace

void inspect_dependents(SqliteConnection& connection, const Table& pending,
                        const std::string& pending_name, PreflightFacts& facts) {
  {
    SqliteStatement enforced(connection, "PRAGMA foreign_keys");
    facts.foreign_keys_enforced = enforced.step() && enforced.integer(0) != 0;
    facts.foreign_keys_per_connection = true;
  }
  auto& out = facts.dependents;
  // A foreign key references a table of its own database file.
  std::deque<std::pair<Table, int>> parents{{pending, -1}};
  std::vector<std::string> walked{pending.name};
  while (!parents.empty()) {
    const auto [parent, parent_index] = parents.front();
    parents.pop_front();
    const auto [parent_name, depth] = sql::walk_parent(out, parent_index, pending_name);
    SqliteStatement keys(connection,
                         "SELECT t.name, f.id, f.\"from\", f.\"to\", f.on_delete FROM "
                         "pragma_table_list t JOIN pragma_foreign_key_list(t.name, t.schema) f "
                         "WHERE t.schema = ?1 AND t.type = 'table' AND f.\"table\" = ?2 COLLATE "
                         "NOCASE ORDER BY t.name, f.id, f.seq");
    keys.bind(1, parent.schema).bind(2, parent.name);
    const std::size_t first = out.size();
    std::vector<Table> children;
    std::string last_table;
    std::int64_t last_id = -1;
    while (keys.step()) {
      const std::string table = keys.text(0);
      const std::int64_t id = keys.integer(1);
      if (table != last_table || id != last_id) {
        last_table = table;
        last_id = id;
        children.push_back(resolve(connection, {parent.schema, table}));
        DependentTable edge;
        edge.schema = children.back().schema;
        edge.name = children.back().name;
        edge.table = display(children.back());
        edge.action = on_delete(keys.text(4));
        edge.parent_table = parent_name;
        edge.depth = depth;
        edge.via = parent_index;
        out.push_back(std::move(edge));
      }
      out.back().columns.push_back(keys.text(2));
      if (!keys.is_null(3)) out.back().parent_columns.push_back(keys.text(3));
    }
    for (std::size_t c = 0; c < children.size(); ++c) {
      auto& edge = out[first + c];
      if (edge.parent_columns.empty()) edge.parent_columns = primary_key(parent);
      edge.indexed = indexed(connection, children[c], edge.columns);
      if (edge.action != OnDelete::kCascade || depth >= kMaxDepth) continue;
      const bool seen = std::any_of(walked.begin(), walked.end(), [&](const std::string& name) {
        return equal_nocase(name, children[c].name);
      });
      if (seen) continue;
      walked.push_back(children[c].name);
      parents.emplace_back(children[c], static_cast<int>(first + c));
    }
  }
}

}  // namespace batch_cleanup::store::sqlite
