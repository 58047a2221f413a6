// Values bound to statement parameters, and the named slots a statement leaves open.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace batch_cleanup::store::sql {

// NULL (std::monostate), an integer, a real number or text.
using Value = std::variant<std::monostate, std::int64_t, double, std::string>;

// The values of a statement's named slots for one execution, by name.
using Slots = std::vector<std::pair<std::string, Value>>;

// The value as text, the way PostgreSQL receives parameters; nullopt for NULL.
std::optional<std::string> to_text(const Value& value);

}  // namespace batch_cleanup::store::sql
