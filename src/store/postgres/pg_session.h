// A thin RAII layer over libpq: one connection, parameterised statements, error translation
// into batch_cleanup's error kinds (by SQLSTATE and connection status, never by message text),
// and a transaction object that rolls back unless committed.
//
// No state outlives a transaction: the session sets nothing at session level. Every statement
// runs inside a transaction that sets its limits with SET LOCAL (statement_timeout,
// lock_timeout, idle_in_transaction_session_timeout, client_connection_check_interval); a
// statement run outside a PgTransaction gets one of its own. So behind a transaction pooler
// (PgBouncer, RDS Proxy, Supavisor) the pooled server connection is left as it was found. The
// unnamed statement of the extended protocol is the only one ever prepared.
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
  // A result made without a server (a scripted session's answer, PgScript): `rows` of text
  // cells (nullopt = NULL), all of one width; `affected` is what affected() says.
  static PgResult of_rows(const std::vector<std::vector<std::optional<std::string>>>& rows,
                          long long affected = 0);
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
  // An integer column; throws DatabaseError(kFatal) on NULL or other text (a relation dropped
  // under a statement reads as NULL), never a bare std::invalid_argument.
  long long integer(int row, int column) const;
  // Rows affected by INSERT/UPDATE/DELETE.
  long long affected() const {
    if (affected_ >= 0) return affected_;
    const char* tuples = PQcmdTuples(result_.get());
    return tuples[0] == '\0' ? 0 : std::stoll(tuples);
  }

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> result_{nullptr, &PQclear};
  long long affected_ = -1;  // of_rows(): the scripted row count
};

// A server played by a script, for tests below the store (in the way of pgbackrest's
// harnessPq): the session hands it every statement instead of sending it, so the real batch
// algorithms run through halving, fallbacks, in-doubt commits and lost connections without a
// server. Not used outside tests.
class PgScript {
 public:
  virtual ~PgScript() = default;
  // The answer to one statement (`params` null: the simple protocol, several statements): its
  // result, or a DatabaseError thrown as the session would translate the server's.
  virtual PgResult answer(const std::string& sql,
                          const std::vector<std::optional<std::string>>* params) = 0;
  // Whether the scripted connection is up (PgTransaction reads a COMMIT that failed while it
  // is down as in doubt).
  virtual bool connected() const = 0;
  virtual int server_version() const { return 150000; }
};

// The limits every transaction of the session sets for itself.
struct TransactionLimits {
  std::chrono::milliseconds statement_timeout{30000};
  std::chrono::milliseconds lock_timeout{2000};
  std::chrono::milliseconds idle_in_transaction_timeout{120000};
  bool check_client_connection = false;  // PostgreSQL 14+: client_connection_check_interval
  bool read_only = false;                // every transaction is BEGIN READ ONLY (dry runs)
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

  // The limits of the transactions that begin from now on.
  void set_limits(const TransactionLimits& limits) { limits_ = limits; }
  const TransactionLimits& limits() const { return limits_; }

  // Runs a statement with text parameters (nullopt = NULL), inside the open PgTransaction or in
  // a transaction of its own. Gives up (closing the connection) when the server has not
  // answered within the statement timeout plus a grace period (a hung server, a frozen
  // backend: the server's own timeout cannot fire then). Throws DatabaseError.
  PgResult exec(const std::string& sql, const std::vector<std::optional<std::string>>& params = {});
  // Runs a built statement with the values of its slots. Throws DatabaseError.
  PgResult run(const sql::Statement& statement, const sql::Slots& slots = {});

  // Sends a cancel request for the statement in flight; safe from any thread.
  void cancel() noexcept;

  // "host:port/dbname" of the live connection, for logs.
  std::string describe() const;
  // The server's version as a number (150004), 0 when not connected.
  int server_version() const;
  // Counts the connections this session has opened: it changes with every reconnect.
  int generation() const { return generation_; }
  // The server process id the server announced at connection (BackendKeyData): a pooler
  // announces one of its own, so it differs from pg_backend_pid() there. 0 when not connected.
  int announced_backend_pid() const { return conn_ != nullptr ? PQbackendPID(conn_) : 0; }

  // Tests: every statement goes to `script` (not owned; nullptr: the server again) instead of a
  // server, which the session then does not need.
  void use_script(PgScript* script) { script_ = script; }

 private:
  friend class PgTransaction;
  // Sends and waits, outside of any wrapping: `params` null for the simple protocol (several
  // statements at once).
  PgResult send_and_wait(const std::string& sql,
                         const std::vector<std::optional<std::string>>* params);
  [[noreturn]] void throw_error(PGresult* result);
  [[noreturn]] void throw_lost(const std::string& why);

  std::string secret_;
  PGconn* conn_ = nullptr;
  TransactionLimits limits_;
  int open_transactions_ = 0;  // PgTransactions alive on this session (0 or 1)
  int generation_ = 0;
  mutable std::mutex cancel_mutex_;  // guards cancel_ against close() during cancel()
  PGcancel* cancel_ = nullptr;
  PgScript* script_ = nullptr;
};

// BEGIN (READ ONLY when asked or when the session's limits say so) and the session's limits
// with SET LOCAL, in one round trip, on construction; ROLLBACK in the destructor unless commit()
// succeeded.
class PgTransaction {
 public:
  enum class Kind {
    kWrite,
    kReadOnly,
    // A write transaction whose id is asked for at BEGIN (same round trip): a commit in doubt
    // can then be resolved with txid_status().
    kTrackedWrite,
  };
  explicit PgTransaction(PgSession& session, bool read_only = false);
  PgTransaction(PgSession& session, Kind kind);
  ~PgTransaction();
  PgTransaction(const PgTransaction&) = delete;
  PgTransaction& operator=(const PgTransaction&) = delete;

  // Throws DatabaseError; a connection lost during COMMIT is reported as kInDoubt.
  void commit();

  // The transaction's id (txid_current()) of a kTrackedWrite transaction; "" otherwise.
  const std::string& id() const { return id_; }

 private:
  PgSession& session_;
  bool done_ = false;
  std::string id_;
};

}  // namespace batch_cleanup::store::postgres
