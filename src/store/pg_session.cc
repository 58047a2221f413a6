#include "store/pg_session.h"

#include <string_view>

#include "log/mask.h"

namespace batch_cleanup::store {

ErrorKind classify_sqlstate(const std::string& sqlstate) {
  if (sqlstate.size() != 5) return ErrorKind::kFatal;
  const std::string_view cls = std::string_view(sqlstate).substr(0, 2);
  if (cls == "08") return ErrorKind::kRetryable;                                 // connection
  if (sqlstate == "40001" || sqlstate == "40P01") return ErrorKind::kRetryable;  // serialization
  if (sqlstate == "55P03") return ErrorKind::kRetryable;  // lock_not_available (lock_timeout)
  if (sqlstate == "57014") return ErrorKind::kRetryable;  // query_canceled (statement_timeout)
  if (cls == "57") return ErrorKind::kRetryable;  // admin shutdown, crash, cannot connect now
  if (sqlstate == "53300" || sqlstate == "53400") return ErrorKind::kRetryable;  // too many conns
  if (cls == "23" || cls == "P0" || cls == "22" || cls == "27" || cls == "09" || cls == "44") {
    return ErrorKind::kRowLevel;  // constraints, trigger RAISE, data, triggered action
  }
  return ErrorKind::kFatal;
}

PgSession::~PgSession() { close(); }

void PgSession::connect(const std::string& conninfo, int connect_timeout_s) {
  close();
  const std::string timeout = std::to_string(connect_timeout_s);
  // Order matters: entries after the expanded dbname override it, entries before it are
  // defaults the URL may override.
  const char* keywords[] = {"connect_timeout", "dbname", "fallback_application_name", nullptr};
  const char* values[] = {timeout.c_str(), conninfo.c_str(), "batch_cleanup", nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, 1);
  if (conn == nullptr)
    throw DatabaseError(ErrorKind::kRetryable, "08006", "out of memory connecting");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn);
    PQfinish(conn);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
      message.pop_back();
    message = logging::scrub(message, secret_);
    // libpq refuses a malformed connection string before any network traffic: that is a
    // configuration error, not an unreachable server.
    if (message.rfind("invalid ", 0) == 0 || message.find("missing \"=\"") != std::string::npos ||
        message.find("unterminated quoted string") != std::string::npos) {
      throw ConfigError("invalid database URL: " + message);
    }
    const bool auth = message.find("password authentication failed") != std::string::npos ||
                      message.find("no password supplied") != std::string::npos ||
                      message.find("does not exist") != std::string::npos ||
                      message.find("no pg_hba.conf entry") != std::string::npos;
    // Authentication and unknown-database refusals will not heal by retrying.
    throw DatabaseError(auth ? ErrorKind::kFatal : ErrorKind::kRetryable, auth ? "28000" : "08006",
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

void PgSession::cancel() noexcept {
  std::lock_guard lock(cancel_mutex_);
  if (cancel_ == nullptr) return;
  char buffer[256];
  PQcancel(cancel_, buffer, sizeof buffer);
}

PgResult PgSession::exec(const std::string& sql,
                         const std::vector<std::optional<std::string>>& params) {
  if (conn_ == nullptr) throw DatabaseError(ErrorKind::kRetryable, "08003", "not connected");
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  PGresult* result = PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                  values.data(), nullptr, nullptr, 0);
  const auto status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return PgResult(result);
  throw_error(result, sql);
}

void PgSession::throw_error(PGresult* result, const std::string& sql) {
  std::string sqlstate;
  std::string message;
  if (result != nullptr) {
    const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    if (state != nullptr) sqlstate = state;
    const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
    message = primary ? primary : PQresultErrorMessage(result);
    const char* detail = PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL);
    if (detail != nullptr) message += std::string(" (") + detail + ")";
    PQclear(result);
  }
  if (message.empty()) message = PQerrorMessage(conn_);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  if (PQstatus(conn_) != CONNECTION_OK) {
    if (sqlstate.empty() || sqlstate.substr(0, 2) != "57") sqlstate = "08006";
    message = "connection lost: " + message;
  }
  (void)sql;
  throw DatabaseError(classify_sqlstate(sqlstate), sqlstate, logging::scrub(message, secret_));
}

PgTransaction::PgTransaction(PgSession& session) : session_(session) { session_.exec("BEGIN"); }

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

}  // namespace batch_cleanup::store
