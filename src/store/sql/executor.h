// How the statements written once (store/sql) run on a backend's connection: a statement and
// its slot values in, materialised rows out. For the small results of catalog, history, dry-run
// and restore queries; the batch algorithms use their backend's connection directly.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/sql/builder.h"
#include "store/sql/dialect.h"

namespace batch_cleanup::store::sql {

// Every row of a result, as text (NULL kept apart), and the rows a statement changed.
class Rows {
 public:
  using Row = std::vector<std::optional<std::string>>;

  void add(Row row) { rows_.push_back(std::move(row)); }
  std::size_t size() const { return rows_.size(); }
  bool empty() const { return rows_.empty(); }
  bool is_null(std::size_t row, std::size_t column) const { return !rows_[row][column]; }
  // "" for NULL.
  std::string text(std::size_t row, std::size_t column) const;
  // Integer and real columns; NULL reads as 0. Throws DatabaseError(kFatal) on other text.
  std::int64_t integer(std::size_t row, std::size_t column) const;
  double real(std::size_t row, std::size_t column) const;

  // Rows inserted, updated or deleted by the statement.
  std::int64_t affected = 0;

 private:
  std::vector<Row> rows_;
};

// A transaction that rolls back when destroyed without commit().
class Transaction {
 public:
  virtual ~Transaction() = default;
  // Throws DatabaseError; a lost connection during COMMIT is ErrorKind::kInDoubt.
  virtual void commit() = 0;
};

class Executor {
 public:
  virtual ~Executor() = default;
  virtual const Dialect& dialect() const = 0;
  // Runs `statement` with the values of its slots. Throws DatabaseError.
  virtual Rows run(const Statement& statement, const Slots& slots = {}) = 0;
  // Opens a transaction: a write transaction, or with `read_only` one that only reads (a dry
  // run's connection cannot write).
  virtual std::unique_ptr<Transaction> begin(bool read_only) = 0;
};

}  // namespace batch_cleanup::store::sql
