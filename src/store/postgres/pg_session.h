// A thin RAII layer over libpq: one connection, parameterised statements, error translation
// into batch_cleanup's error kinds (by SQLSTATE and connection status, never by message text),
// and a transaction object that rolls back unless committed.
#pragma once

#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "batch_cleanup/errors.h"
#include "store/sql/builder.h"

namespace batch_cleanup::store::postgres {

class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(PGresult* result) : result_(result, &PQclear) {}
  int rows() const { return PQntuples(result_.get()); }
  int columns() const { return PQnfields(result_.get()); }
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

class PgSession {
 public:
  // `secret` is scrubbed from every error message (the password, when known).
  explicit PgSession(std::string secret) : secret_(std::move(secret)) {}
  ~PgSession();
  PgSession(const PgSession&) = delete;
  PgSession& operator=(const PgSession&) = delete;

  // Connects. Throws ConfigError for a malformed connection string; DatabaseError(kFatal) with
  // the server's SQLSTATE when the server refuses the connection (authentication, unknown
  // database or role); DatabaseError(kRetryable) when no server answered.
  void connect(const std::string& conninfo, std::chrono::milliseconds connect_timeout);
  void close() noexcept;
  bool connected() const;

  // Runs a statement with text parameters (nullopt = NULL). Throws DatabaseError.
  PgResult exec(const std::string& sql, const std::vector<std::optional<std::string>>& params = {});
  // Runs a built statement with the values of its slots. Throws DatabaseError.
  PgResult run(const sql::Statement& statement, const sql::Slots& slots = {});

  // Sends a cancel request for the statement in flight; safe from any thread.
  void cancel() noexcept;

  // "host:port/dbname" of the live connection, for logs.
  std::string describe() const;
  // The server's version as a number (150004), 0 when not connected.
  int server_version() const;

 private:
  [[noreturn]] void throw_error(PGresult* result);

  std::string secret_;
  PGconn* conn_ = nullptr;
  mutable std::mutex cancel_mutex_;  // guards cancel_ against close() during cancel()
  PGcancel* cancel_ = nullptr;
};

// BEGIN (or BEGIN READ ONLY) on construction; ROLLBACK in the destructor unless commit()
// succeeded.
class PgTransaction {
 public:
  explicit PgTransaction(PgSession& session, bool read_only = false);
  ~PgTransaction();
  PgTransaction(const PgTransaction&) = delete;
  PgTransaction& operator=(const PgTransaction&) = delete;

  // Throws DatabaseError; a connection lost during COMMIT is reported as kInDoubt.
  void commit();

 private:
  PgSession& session_;
  bool done_ = false;
};

}  // namespace batch_cleanup::store::postgres
