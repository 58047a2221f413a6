// Validation of table and column names taken from configuration. Quoting them belongs to the
// store's SQL dialect (store/sql/dialect.h).
#pragma once

#include <string>
#include <string_view>

namespace batch_cleanup::config {

// A possibly schema-qualified name, validated and split.
struct QualifiedName {
  std::string schema;  // empty when unqualified (the search path decides)
  std::string name;

  // schema.name as the user wrote it, for messages.
  std::string display() const;
};

// Accepts [A-Za-z_][A-Za-z0-9_$]* up to 63 bytes. `what` names the setting in the error.
// Throws ConfigError.
std::string validate_identifier(std::string_view text, std::string_view what);

// Accepts "name" or "schema.name", each part as validate_identifier.
QualifiedName parse_table_name(std::string_view text, std::string_view what);

}  // namespace batch_cleanup::config
