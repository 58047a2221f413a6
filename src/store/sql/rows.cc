#include <charconv>
#include <cstdlib>

#include "batch_cleanup/errors.h"
#include "store/sql/executor.h"

namespace batch_cleanup::store::sql {

std::string Rows::text(std::size_t row, std::size_t column) const {
  const auto& cell = rows_[row][column];
  return cell ? *cell : std::string();
}

std::int64_t Rows::integer(std::size_t row, std::size_t column) const {
  const auto& cell = rows_[row][column];
  if (!cell || cell->empty()) return 0;
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(cell->data(), cell->data() + cell->size(), value);
  if (error != std::errc() || end != cell->data() + cell->size()) {
    // A real number where an integer was expected (SQLite keeps what it was given).
    return static_cast<std::int64_t>(real(row, column));
  }
  return value;
}

double Rows::real(std::size_t row, std::size_t column) const {
  const auto& cell = rows_[row][column];
  if (!cell || cell->empty()) return 0;
  char* end = nullptr;
  const double value = std::strtod(cell->c_str(), &end);
  if (end == cell->c_str()) {
    throw DatabaseError(ErrorCause::kOther, "",
                        "not a number in column " + std::to_string(column) + ": '" + *cell + "'");
  }
  return value;
}

}  // namespace batch_cleanup::store::sql
