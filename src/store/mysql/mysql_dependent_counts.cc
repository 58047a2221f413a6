#include "store/mysql/mysql_dependent_counts.h"

#include "store/mysql/mysql_dialect.h"
#include "store/sql/dependents_sql.h"

namespace batch_cleanup::store::mysql {
MysqlDependentCounts::MysqlDependentCounts(const std::vector<DependentTable>& dependents,
                                           MysqlBatchTables tables, StatementLimits limits)
    : dependents_(dependents), tables_(std::move(tables)), limits_(limits) {
  for (std::size_t i = 0; i < dependents_.size(); ++i) {
    const auto& edge = dependents_[i];
    if (sql::refuses(edge)) continue;  // a refused delete changes nothing
    const char* action = edge.action == OnDelete::kCascade   ? "cascade"
                         : edge.action == OnDelete::kSetNull ? "set null"
                                                             : "set default";
    Group* group = nullptr;
    for (auto& have : groups_) {
      if (have.table == edge.table && have.action == action) group = &have;
    }
    if (group == nullptr) {
      groups_.push_back({edge.table, action, {}});
      group = &groups_.back();
    }
    group->keys.push_back(static_cast<int>(i));
  }
}

std::vector<std::int64_t> MysqlDependentCounts::lock(MysqlSession& session,
                                                     std::span<const std::string> keys) const {
  std::vector<std::int64_t> before;
  before.reserve(groups_.size());
  for (const auto& group : groups_) {
    for (const int edge : group.keys) {
      sql::Builder b(mysql_dialect());
      b.sql(statement_prefix(limits_) + "SELECT count(*)");
      sql::append_dependent_join(b, dependents_, edge, tables_.pending);
      b.sql(" WHERE ");
      append_key_list(b, tables_, "p", keys);
      b.sql(" FOR UPDATE");
      session.run(b.build());
    }
    // Counted apart from the lock: a row two keys reach counts once, and it is the count
    // add_lost() takes again after the DELETE.
    before.push_back(count(session, group, keys));
  }
  return before;
}

std::int64_t MysqlDependentCounts::count(MysqlSession& session, const Group& group,
                                         std::span<const std::string> keys) const {
  sql::Builder b(mysql_dialect());
  const auto& table = dependents_[static_cast<std::size_t>(group.keys.front())];
  b.sql(statement_prefix(limits_) + "SELECT count(*) FROM " +
        mysql_dialect().quote(config::QualifiedName{table.schema, table.name}) + " dt WHERE ");
  for (std::size_t i = 0; i < group.keys.size(); ++i) {
    if (i > 0) b.sql(" OR ");
    sql::append_reaches_pending(
        b, dependents_, group.keys[i], "dt", tables_.pending,
        [&](sql::Builder& inner) { append_key_list(inner, tables_, "p", keys); });
  }
  return session.run(b.build()).integer(0, 0);
}

void MysqlDependentCounts::add_lost(MysqlSession& session, std::span<const std::string> keys,
                                    const std::vector<std::int64_t>& before,
                                    std::vector<DependentCount>& counts) const {
  for (std::size_t g = 0; g < groups_.size() && g < before.size(); ++g) {
    const std::int64_t lost = before[g] - count(session, groups_[g], keys);
    add_dependent_count(counts, {groups_[g].table, groups_[g].action, lost});
  }
}

}  // namespace batch_cleanup::store::mysql
