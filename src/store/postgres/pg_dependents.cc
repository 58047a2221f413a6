#include "store/postgres/pg_dependents.h"

#include <deque>
#include <set>
#include <utility>

namespace batch_cleanup::store::postgres {
namespace {

// Deep enough for any schema a person maintains; a cycle of CASCADE keys stops at a table
// already walked.
constexpr int kMaxDepth = 16;

OnDelete on_delete(const std::string& confdeltype) {
  if (confdeltype == "c") return OnDelete::kCascade;
  if (confdeltype == "n") return OnDelete::kSetNull;
  if (confdeltype == "d") return OnDelete::kSetDefault;
  if (confdeltype == "r") return OnDelete::kRestrict;
  return OnDelete::kNoAction;
}

}  // namespace

std::vector<DependentTable> inspect_dependents(PgSession& session, const std::string& pending_oid,
                                               const std::string& pending_name) {
  std::vector<DependentTable> out;
  // (relation, its index in `out`; -1 for the pending table, and its name)
  std::deque<std::pair<std::string, int>> parents{{pending_oid, -1}};
  std::set<std::string> walked{pending_oid};
  // One row per column of each foreign key; the constraints a partition inherits from its
  // partitioned table (conparentid) are the same key, reported once.
  static const std::string kQuery =
      "SELECT con.oid::text, con.conname::text, con.conrelid::text, format('%I.%I', n.nspname, "
      "cl.relname), n.nspname::text, cl.relname::text, con.confdeltype::text, ca.attname::text, "
      "pa.attname::text, EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = "
      "con.conrelid AND i.indpred IS NULL AND i.indexprs IS NULL AND (string_to_array(i.indkey::"
      "text, ' ')::int2[])[1:cardinality(con.conkey)] @> con.conkey AND (string_to_array(i.indkey"
      "::text, ' ')::int2[])[1:cardinality(con.conkey)] <@ con.conkey) FROM "
      "pg_catalog.pg_constraint con JOIN pg_catalog.pg_class cl ON cl.oid = con.conrelid JOIN "
      "pg_catalog.pg_namespace n ON n.oid = cl.relnamespace CROSS JOIN LATERAL "
      "unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(child, parent, i) JOIN "
      "pg_catalog.pg_attribute ca ON ca.attrelid = con.conrelid AND ca.attnum = k.child JOIN "
      "pg_catalog.pg_attribute pa ON pa.attrelid = con.confrelid AND pa.attnum = k.parent WHERE "
      "con.contype = 'f' AND con.confrelid = $1::oid AND con.conparentid = 0 ORDER BY "
      "cl.relname, con.conname, con.oid, k.i";
  while (!parents.empty()) {
    const auto [parent_oid, parent_index] = parents.front();
    parents.pop_front();
    const std::string parent_name =
        parent_index < 0 ? pending_name : out[static_cast<std::size_t>(parent_index)].table;
    const int depth = parent_index < 0 ? 1 : out[static_cast<std::size_t>(parent_index)].depth + 1;
    const auto rows = session.exec(kQuery, {parent_oid});
    std::string constraint_oid;
    std::vector<std::string> child_oids;
    for (int r = 0; r < rows.rows(); ++r) {
      if (rows.text(r, 0) != constraint_oid) {
        constraint_oid = rows.text(r, 0);
        DependentTable edge;
        edge.constraint = rows.text(r, 1);
        edge.table = rows.text(r, 3);
        edge.schema = rows.text(r, 4);
        edge.name = rows.text(r, 5);
        edge.action = on_delete(rows.text(r, 6));
        edge.parent_table = parent_name;
        edge.depth = depth;
        edge.via = parent_index;
        edge.indexed = rows.text(r, 9) == "t";
        out.push_back(std::move(edge));
        child_oids.push_back(rows.text(r, 2));
      }
      out.back().columns.push_back(rows.text(r, 7));
      out.back().parent_columns.push_back(rows.text(r, 8));
    }
    const std::size_t first = out.size() - child_oids.size();
    for (std::size_t c = 0; c < child_oids.size(); ++c) {
      const auto& edge = out[first + c];
      if (edge.action != OnDelete::kCascade || depth >= kMaxDepth) continue;
      if (!walked.insert(child_oids[c]).second) continue;
      parents.emplace_back(child_oids[c], static_cast<int>(first + c));
    }
  }
  return out;
}

}  // namespace batch_cleanup::store::postgres
