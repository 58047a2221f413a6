// A thin RAII layer over libpq: one connection, parameterised statements, error translation
// into batch_cleanup's error kinds, and a transaction object that rolls back unless committed.
#pragma once

#include <libpq-fe.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "batch_cleanup/errors.h"

namespace batch_cleanup::store {

class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(PGresult* result) : result_(result, &PQclear) {}
  int rows() const { return PQntuples(result_.get()); }
  bool is_null(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::string text(int row, int column) const {
    return std::string(PQgetvalue(result_.get(), row, column),
                       static_cast<std::size_t>(PQgetlength(result_.get(), row, column)));
  }
  std::optional<std::string> optional_text(int row, int column) const {
    if (is_null(row, column)) return std::nullopt;
    return text(row, column);
  }
  long long integer(int row, int column) const { return std::stoll(text(row, column)); }
  // Rows affected by INSERT/UPDATE/DELETE.
  long long affected() const {
    const char* tuples = PQcmdTuples(result_.get());
    return tuples[0] == '\0' ? 0 : std::stoll(tuples);
  }

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> result_{nullptr, &PQclear};
};

// Classifies a SQLSTATE the way the engine reacts to it.
ErrorKind classify_sqlstate(const std::string& sqlstate);

class PgSession {
 public:
  // `secret` is scrubbed from every error message (the password, when known).
  explicit PgSession(std::string secret) : secret_(std::move(secret)) {}
  ~PgSession();

  // Connects; throws DatabaseError(kRetryable, "08006") when the server cannot be reached and
  // DatabaseError(kFatal, "28P01"/...) for authentication or other refusals.
  void connect(const std::string& conninfo, int connect_timeout_s);
  void close() noexcept;
  bool connected() const;

  // Runs a statement with text parameters (nullopt = NULL). Throws DatabaseError.
  PgResult exec(const std::string& sql, const std::vector<std::optional<std::string>>& params = {});

  // Sends a cancel request for the statement in flight; safe from any thread.
  void cancel() noexcept;

  // "host:port/dbname" of the live connection, for logs.
  std::string describe() const;

 private:
  [[noreturn]] void throw_error(PGresult* result, const std::string& sql);

  std::string secret_;
  PGconn* conn_ = nullptr;
  mutable std::mutex cancel_mutex_;  // guards cancel_ against close() during cancel()
  PGcancel* cancel_ = nullptr;
};

// BEGIN on construction; ROLLBACK in the destructor unless commit() succeeded.
class PgTransaction {
 public:
  explicit PgTransaction(PgSession& session);
  ~PgTransaction();
  PgTransaction(const PgTransaction&) = delete;
  PgTransaction& operator=(const PgTransaction&) = delete;

  // Throws DatabaseError; a connection lost during COMMIT is reported as kInDoubt.
  void commit();

 private:
  PgSession& session_;
  bool done_ = false;
};

}  // namespace batch_cleanup::store
