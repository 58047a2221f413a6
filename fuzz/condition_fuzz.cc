// Fuzzes the --where condition parser and its rendering: whatever the text, the parser either
// refuses it (ConfigError) or yields a tree whose SQL carries no text of the input but column
// names (validated identifiers): every literal is a bound parameter, so no quote, semicolon or
// comment of the input reaches the statement.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "batch_cleanup/errors.h"
#include "config/condition.h"
#include "store/mysql/mysql_dialect.h"
#include "store/sql/builder.h"
#include "store/sql/condition_sql.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  namespace sql = batch_cleanup::store::sql;
  try {
    const auto node = batch_cleanup::config::parse_condition(text);
    (void)batch_cleanup::config::describe_condition(*node);
    const auto& dialect = batch_cleanup::store::mysql::mysql_dialect();
    sql::ConditionColumns columns;
    for (const auto& name : batch_cleanup::config::condition_columns(*node)) {
      if (name.find_first_not_of(
              "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_$") !=
          std::string::npos) {
        std::abort();  // a column is an identifier
      }
      columns[name] = {dialect.quote(name), false, ""};
    }
    sql::Builder b(dialect);
    sql::append_condition(b, *node, "p", columns);
    const std::string& rendered = b.text();
    if (rendered.find('\'') != std::string::npos || rendered.find(';') != std::string::npos ||
        rendered.find("--") != std::string::npos || rendered.find("/*") != std::string::npos) {
      std::abort();
    }
  } catch (const batch_cleanup::ConfigError&) {
  }
  return 0;
}
