#include "store/sql/dialect.h"

#include <nlohmann/json.hpp>

namespace batch_cleanup::store::sql {

std::string Dialect::quote(const config::QualifiedName& name) const {
  return name.schema.empty() ? quote(name.name) : quote(name.schema) + "." + quote(name.name);
}

Value Dialect::list_value(const std::vector<std::string>& items) const {
  return nlohmann::json(items).dump();
}

std::string double_quoted(std::string_view identifier) {
  std::string out = "\"";
  for (const char c : identifier) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace batch_cleanup::store::sql
