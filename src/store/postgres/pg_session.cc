#include "store/postgres/pg_session.h"

#include <poll.h>

#include <algorithm>
#include <cctype>
#include <string_view>

#include "log/mask.h"
#include "store/sqlstate.h"

namespace batch_cleanup::store::postgres {
namespace {

using Clock = std::chrono::steady_clock;

std::string without_trailing_space(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// The SQLSTATE of the last server error in a libpq message written with PQERRORS_VERBOSE
// ("...: FATAL:  3D000: database "x" does not exist"); "" when none. The severity is
// translated under lc_messages, the code never is.
std::string verbose_sqlstate(std::string_view message) {
  std::string found;
  for (std::size_t at = message.find(":  "); at != std::string_view::npos;
       at = message.find(":  ", at + 1)) {
    const std::string_view code = message.substr(at + 3, 5);
    const bool shaped = code.size() == 5 && message.substr(at + 8, 2) == ": " &&
                        std::all_of(code.begin(), code.end(), [](char c) {
                          return std::isdigit(static_cast<unsigned char>(c)) ||
                                 std::isupper(static_cast<unsigned char>(c));
                        });
    if (shaped) found = std::string(code);
  }
  return found;
}

// libpq exposes no SQLSTATE for a connection the server refused. A second, non-blocking attempt
// with verbose errors reads the server's code from its error message, within `timeout`; "" when
// no server answered with an error (or it answered with a success this time).
std::string server_sqlstate(const char* const* keywords, const char* const* values,
                            std::chrono::milliseconds timeout) {
  PGconn* probe = PQconnectStartParams(keywords, values, 1);
  if (probe == nullptr) return "";
  PQsetErrorVerbosity(probe, PQERRORS_VERBOSE);
  const auto deadline = Clock::now() + timeout;
  PostgresPollingStatusType status = PGRES_POLLING_WRITING;
  while (PQstatus(probe) != CONNECTION_BAD && status != PGRES_POLLING_OK &&
         status != PGRES_POLLING_FAILED) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 || PQsocket(probe) < 0) break;
    pollfd fd{PQsocket(probe),
              static_cast<short>(status == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
    if (::poll(&fd, 1, static_cast<int>(left.count())) <= 0) break;
    status = PQconnectPoll(probe);
  }
  std::string code =
      PQstatus(probe) == CONNECTION_OK ? "" : verbose_sqlstate(PQerrorMessage(probe));
  PQfinish(probe);
  return code;
}

}  // namespace

PgSession::~PgSession() { close(); }

void PgSession::connect(const std::string& conninfo, std::chrono::milliseconds connect_timeout) {
  close();
  {
    char* error = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &error);
    if (parsed == nullptr) {
      const std::string message = error != nullptr ? error : "out of memory";
      PQfreemem(error);
      throw ConfigError("invalid database URL: " +
                        logging::scrub(without_trailing_space(message), secret_));
    }
    PQconninfoFree(parsed);
  }
  const std::string timeout =
      std::to_string(std::max<long long>(1, (connect_timeout.count() + 999) / 1000));
  // Order matters: entries after the expanded dbname override it, entries before it are
  // defaults the URL may override.
  const char* keywords[] = {"connect_timeout", "dbname", "fallback_application_name", nullptr};
  const char* values[] = {timeout.c_str(), conninfo.c_str(), "batch_cleanup", nullptr};
  const auto started = Clock::now();
  PGconn* conn = PQconnectdbParams(keywords, values, 1);
  if (conn == nullptr) {
    throw DatabaseError(ErrorKind::kRetryable, std::string(sqlstate::kConnectionFailure),
                        "out of memory connecting");
  }
  if (PQstatus(conn) != CONNECTION_OK) {
    const std::string message =
        logging::scrub(without_trailing_space(PQerrorMessage(conn)), secret_);
    const bool needs_password = PQconnectionNeedsPassword(conn) != 0;
    const bool used_password = PQconnectionUsedPassword(conn) != 0;
    PQfinish(conn);
    std::string code;
    if (needs_password) {
      code = sqlstate::kInvalidPassword;  // the server asked for a password nobody supplied
    } else if (Clock::now() - started < connect_timeout) {
      code = server_sqlstate(keywords, values, connect_timeout);  // a timeout: nobody answered
    }
    if (code.empty() && used_password) code = sqlstate::kInvalidPassword;
    // A refusal (authentication, an unknown database or role, no pg_hba.conf entry) will not
    // heal by retrying; a server starting up or out of connections will.
    const bool refused = !code.empty() && sqlstate::classify(code) != ErrorKind::kRetryable;
    throw DatabaseError(refused ? ErrorKind::kFatal : ErrorKind::kRetryable,
                        code.empty() ? std::string(sqlstate::kConnectionFailure) : code,
                        "cannot connect: " + message);
  }
  conn_ = conn;
  std::lock_guard lock(cancel_mutex_);
  cancel_ = PQgetCancel(conn_);
}

void PgSession::close() noexcept {
  {
    std::lock_guard lock(cancel_mutex_);
    if (cancel_ != nullptr) PQfreeCancel(cancel_);
    cancel_ = nullptr;
  }
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
}

bool PgSession::connected() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

std::string PgSession::describe() const {
  if (conn_ == nullptr) return "(not connected)";
  const char* host = PQhost(conn_);
  return std::string(host ? host : "?") + ":" + PQport(conn_) + "/" + PQdb(conn_);
}

int PgSession::server_version() const { return conn_ != nullptr ? PQserverVersion(conn_) : 0; }

void PgSession::cancel() noexcept {
  std::lock_guard lock(cancel_mutex_);
  if (cancel_ == nullptr) return;
  char buffer[256];
  PQcancel(cancel_, buffer, sizeof buffer);
}

PgResult PgSession::exec(const std::string& sql,
                         const std::vector<std::optional<std::string>>& params) {
  if (conn_ == nullptr) {
    throw DatabaseError(ErrorKind::kRetryable, std::string(sqlstate::kConnectionDoesNotExist),
                        "not connected");
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  PGresult* result = PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                  values.data(), nullptr, nullptr, 0);
  const auto status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return PgResult(result);
  throw_error(result);
}

PgResult PgSession::run(const sql::Statement& statement, const sql::Slots& slots) {
  std::vector<std::optional<std::string>> params;
  for (const auto& value : statement.values(slots)) params.push_back(sql::to_text(value));
  return exec(statement.text(), params);
}

void PgSession::throw_error(PGresult* result) {
  std::string code;
  std::string message;
  if (result != nullptr) {
    const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    if (state != nullptr) code = state;
    const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
    message = primary ? primary : PQresultErrorMessage(result);
    const char* detail = PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL);
    if (detail != nullptr) message += std::string(" (") + detail + ")";
    PQclear(result);
  }
  if (message.empty()) message = PQerrorMessage(conn_);
  message = without_trailing_space(std::move(message));
  if (PQstatus(conn_) != CONNECTION_OK) {
    // The session is gone: whatever the statement said, the next one needs a new connection.
    if (code.substr(0, 2) != "57") code = sqlstate::kConnectionFailure;
    message = "connection lost: " + message;
  }
  throw DatabaseError(sqlstate::classify(code), code, logging::scrub(message, secret_));
}

PgTransaction::PgTransaction(PgSession& session, bool read_only) : session_(session) {
  session_.exec(read_only ? "BEGIN READ ONLY" : "BEGIN");
}

PgTransaction::~PgTransaction() {
  if (done_) return;
  try {
    if (session_.connected()) session_.exec("ROLLBACK");
  } catch (...) {
    // The connection is gone or broken; the server rolls back on its own.
  }
}

void PgTransaction::commit() {
  done_ = true;
  try {
    session_.exec("COMMIT");
  } catch (const DatabaseError& e) {
    if (e.kind() == ErrorKind::kRetryable && !session_.connected()) {
      throw DatabaseError(ErrorKind::kInDoubt, e.sqlstate(),
                          std::string("commit in doubt: ") + e.what());
    }
    throw;
  }
}

}  // namespace batch_cleanup::store::postgres
