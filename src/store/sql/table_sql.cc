#include "store/sql/table_sql.h"

namespace batch_cleanup::store::sql {

std::vector<std::string> existing_keys(Executor& executor, const std::string& pending,
                                       const std::string& key, const std::string& key_type,
                                       const std::vector<std::string>& keys) {
  const Dialect& d = executor.dialect();
  Builder b(d);
  b.sql("SELECT k.value FROM ");
  d.list_rows(b, "keys");
  b.sql(" WHERE EXISTS (SELECT 1 FROM " + pending + " p WHERE p." + key + " = k.value" +
        d.cast(key_type) + ")");
  const Rows rows = executor.run(b.build(), {{"keys", d.list_value(keys)}});
  std::vector<std::string> out;
  out.reserve(rows.size());
  for (std::size_t r = 0; r < rows.size(); ++r) out.push_back(rows.text(r, 0));
  return out;
}

std::int64_t purge_archived(Executor& executor, const std::string& archive,
                            std::chrono::milliseconds older_than, std::int64_t batch_rows) {
  const Dialect& d = executor.dialect();
  Builder b(d);
  d.delete_up_to(
      b, archive, [&](Builder& where) { d.written_before(where, "archived_at", older_than); },
      "archived_at", batch_rows);
  const Statement purge = b.build();
  std::int64_t total = 0;
  while (true) {
    auto tx = executor.begin(false);
    const std::int64_t removed = executor.run(purge).affected;
    tx->commit();
    total += removed;
    if (removed < batch_rows) break;
  }
  return total;
}

}  // namespace batch_cleanup::store::sql
