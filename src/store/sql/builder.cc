#include "store/sql/builder.h"

#include <fmt/format.h>

#include <stdexcept>

#include "store/sql/dialect.h"

namespace batch_cleanup::store::sql {

std::optional<std::string> to_text(const Value& value) {
  if (std::holds_alternative<std::monostate>(value)) return std::nullopt;
  if (const auto* integer = std::get_if<std::int64_t>(&value)) return std::to_string(*integer);
  if (const auto* real = std::get_if<double>(&value)) return fmt::format("{}", *real);
  return std::get<std::string>(value);
}

bool Statement::has_slot(std::string_view name) const {
  for (const auto& parameter : parameters_) {
    if (parameter.slot == name) return true;
  }
  return false;
}

int Statement::slot_number(std::string_view name) const {
  const std::vector<int> positions = slot_positions(name);
  if (positions.size() > 1) {
    throw std::logic_error("slot '" + std::string(name) + "' is " +
                           std::to_string(positions.size()) + " parameters of: " + text_);
  }
  return positions.empty() ? 0 : positions.front();
}

std::vector<int> Statement::slot_positions(std::string_view name) const {
  std::vector<int> out;
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    if (parameters_[i].slot == name) out.push_back(static_cast<int>(i + 1));
  }
  return out;
}

std::vector<Value> Statement::values(const Slots& slots) const {
  std::vector<Value> out;
  out.reserve(parameters_.size());
  for (const auto& parameter : parameters_) {
    if (parameter.slot.empty()) {
      out.push_back(parameter.value);
      continue;
    }
    const Value* found = nullptr;
    for (const auto& [name, value] : slots) {
      if (name == parameter.slot) {
        found = &value;  // the first value given for a slot wins
        break;
      }
    }
    if (found == nullptr) {
      throw std::logic_error("no value for slot '" + parameter.slot + "' of: " + text_);
    }
    out.push_back(*found);
  }
  return out;
}

Builder& Builder::sql(std::string_view text) {
  statement_.text_ += text;
  return *this;
}

Builder& Builder::value(Value value) {
  statement_.parameters_.push_back({"", std::move(value)});
  statement_.text_ += dialect_.placeholder(static_cast<int>(statement_.parameters_.size()));
  return *this;
}

Builder& Builder::slot(std::string_view name) {
  auto& parameters = statement_.parameters_;
  if (dialect_.placeholders() == Placeholders::kNumbered) {
    for (std::size_t i = 0; i < parameters.size(); ++i) {
      if (parameters[i].slot == name) {
        statement_.text_ += dialect_.placeholder(static_cast<int>(i + 1));
        return *this;
      }
    }
  }
  parameters.push_back({std::string(name), std::monostate{}});
  statement_.text_ += dialect_.placeholder(static_cast<int>(parameters.size()));
  return *this;
}

Builder& Builder::cast(std::string_view type_name) {
  statement_.text_ += dialect_.cast(type_name);
  return *this;
}

}  // namespace batch_cleanup::store::sql
