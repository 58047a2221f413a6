#include "store/sqlite/sqlite_dependent_counts.h"

#include "store/sqlite/sqlite_dialect.h"

namespace batch_cleanup::store::sqlite {

SqliteDependentCounts::SqliteDependentCounts(const std::vector<DependentTable>& dependents) {
  for (const auto& edge : dependents) {
    const std::string from = "SELECT count(*) FROM " + sqlite_dialect().quote(edge.schema) + "." +
                             sqlite_dialect().quote(edge.name);
    if (edge.action == OnDelete::kCascade) {
      bool seen = false;  // one count per table, however many keys cascade into it
      for (const auto& have : counted_)
        seen = seen || (have.table == edge.table && have.action == "cascade");
      if (!seen) counted_.push_back({edge.table, "cascade", from});
    } else if (edge.action == OnDelete::kSetNull) {
      std::string where;
      for (const auto& column : edge.columns) {
        where +=
            (where.empty() ? " WHERE " : " AND ") + sqlite_dialect().quote(column) + " IS NOT NULL";
      }
      counted_.push_back({edge.table, "set null", from + where});
    }
  }
}

std::vector<std::int64_t> SqliteDependentCounts::read(SqliteConnection& connection) const {
  std::vector<std::int64_t> out;
  out.reserve(counted_.size());
  for (const auto& counted : counted_) {
    SqliteStatement& count = connection.kept(counted.sql);
    SqliteReset done(count);
    out.push_back(count.step() ? count.integer(0) : 0);
  }
  return out;
}

void SqliteDependentCounts::begin(SqliteConnection& connection) { before_ = read(connection); }

void SqliteDependentCounts::end(SqliteConnection& connection, std::vector<DependentCount>& counts) {
  if (counted_.empty() || before_.size() != counted_.size()) return;
  const auto after = read(connection);
  for (std::size_t i = 0; i < counted_.size(); ++i) {
    add_dependent_count(counts, {counted_[i].table, counted_[i].action, before_[i] - after[i]});
  }
}

}  // namespace batch_cleanup::store::sqlite
