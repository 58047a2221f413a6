#include "store/postgres/pg_session.h"

#include <poll.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string_view>

#include "log/mask.h"
#include "store/postgres/pg_sqlstate.h"

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

PgResult PgResult::of_rows(const std::vector<std::vector<std::optional<std::string>>>& rows,
                           long long affected) {
  PGresult* made = PQmakeEmptyPGresult(nullptr, PGRES_TUPLES_OK);
  if (made == nullptr) throw std::bad_alloc();
  PgResult result(made);
  result.affected_ = affected;
  const int width = rows.empty() ? 0 : static_cast<int>(rows.front().size());
  // Columns c1, c2, ... of type text (oid 25); PQsetResultAttrs copies the names.
  std::vector<std::string> names(static_cast<std::size_t>(width));
  std::vector<PGresAttDesc> columns(static_cast<std::size_t>(width));
  for (std::size_t c = 0; c < names.size(); ++c) {
    names[c] = "c" + std::to_string(c + 1);
    columns[c] = PGresAttDesc{names[c].data(), 0, 0, 0, 25, -1, -1};
  }
  if (width > 0 && PQsetResultAttrs(made, width, columns.data()) == 0) throw std::bad_alloc();
  for (std::size_t r = 0; r < rows.size(); ++r) {
    for (int c = 0; c < width; ++c) {
      const auto& cell = rows[r].at(static_cast<std::size_t>(c));
      const int ok = cell
                         ? PQsetvalue(made, static_cast<int>(r), c, const_cast<char*>(cell->data()),
                                      static_cast<int>(cell->size()))
                         : PQsetvalue(made, static_cast<int>(r), c, nullptr, -1);
      if (ok == 0) throw std::bad_alloc();
    }
  }
  return result;
}

long long PgResult::integer(int row, int column) const {
  const std::string value = text(row, column);
  try {
    if (is_null(row, column)) throw std::invalid_argument("NULL");
    std::size_t used = 0;
    const long long number = std::stoll(value, &used);
    if (used != value.size()) throw std::invalid_argument(value);
    return number;
  } catch (const std::logic_error&) {
    throw DatabaseError(ErrorCause::kOther, std::string(sqlstate::kInvalidTextRepresentation),
                        "expected an integer in column " + std::to_string(column + 1) + ", got " +
                            (is_null(row, column) ? "NULL" : "'" + value + "'") +
                            " (was a table dropped?)");
  }
}

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
  // defaults the URL may override. TCP keepalives and tcp_user_timeout find a dead host or a
  // broken network within about 20 s, even while a statement waits.
  const char* keywords[] = {"connect_timeout",
                            "keepalives",
                            "keepalives_idle",
                            "keepalives_interval",
                            "keepalives_count",
                            "tcp_user_timeout",
                            "dbname",
                            "fallback_application_name",
                            nullptr};
  const char* values[] = {timeout.c_str(), "1",    "10", "3", "3", "20000", conninfo.c_str(),
                          "batch_cleanup", nullptr};
  const auto started = Clock::now();
  PGconn* conn = PQconnectdbParams(keywords, values, 1);
  if (conn == nullptr) {
    throw DatabaseError(ErrorCause::kConnectionLost, std::string(sqlstate::kConnectionFailure),
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
    if (code.empty()) code = sqlstate::kConnectionFailure;
    throw DatabaseError(sqlstate::cause_of(code), code, "cannot connect: " + message);
  }
  // The server's NOTICEs ("relation ... already exists, skipping") are not the operator's: libpq
  // would print them on stderr.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  conn_ = conn;
  ++generation_;
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

bool PgSession::connected() const {
  if (script_ != nullptr) return script_->connected();
  return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK;
}

std::string PgSession::describe() const {
  if (conn_ == nullptr) return "(not connected)";
  const char* host = PQhost(conn_);
  return std::string(host ? host : "?") + ":" + PQport(conn_) + "/" + PQdb(conn_);
}

int PgSession::server_version() const {
  if (script_ != nullptr) return script_->server_version();
  return conn_ != nullptr ? PQserverVersion(conn_) : 0;
}

void PgSession::cancel() noexcept {
  std::lock_guard lock(cancel_mutex_);
  if (cancel_ == nullptr) return;
  char buffer[256];
  PQcancel(cancel_, buffer, sizeof buffer);
}

PgResult PgSession::exec(const std::string& sql,
                         const std::vector<std::optional<std::string>>& params) {
  if (open_transactions_ == 0) {
    // A statement of its own: its own transaction, with the limits.
    PgTransaction tx(*this);
    PgResult result = send_and_wait(sql, &params);
    tx.commit();
    return result;
  }
  return send_and_wait(sql, &params);
}

PgResult PgSession::send_and_wait(const std::string& sql,
                                  const std::vector<std::optional<std::string>>* params) {
  if (script_ != nullptr) return script_->answer(sql, params);
  if (conn_ == nullptr) {
    throw DatabaseError(ErrorCause::kConnectionLost, std::string(sqlstate::kConnectionDoesNotExist),
                        "not connected");
  }
  int sent = 0;
  if (params == nullptr) {
    sent = PQsendQuery(conn_, sql.c_str());
  } else {
    std::vector<const char*> values;
    values.reserve(params->size());
    for (const auto& p : *params) values.push_back(p ? p->c_str() : nullptr);
    sent = PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                             values.data(), nullptr, nullptr, 0);
  }
  if (sent == 0) throw_error(nullptr);
  // The server enforces statement_timeout itself; this is for when it cannot (a frozen
  // backend, a stopped server): a little longer, then the connection is given up.
  const auto limit = limits_.statement_timeout;
  const bool bounded = limit.count() > 0;
  const auto deadline = Clock::now() + limit + std::chrono::seconds(5);
  PGresult* last = nullptr;
  PGresult* failed = nullptr;
  while (true) {
    while (PQisBusy(conn_) != 0) {
      const auto left =
          bounded ? std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now())
                  : std::chrono::milliseconds(-1);
      if (bounded && left.count() <= 0) {
        if (last != nullptr) PQclear(last);
        if (failed != nullptr) PQclear(failed);
        throw_lost("no answer from the server within " +
                   std::to_string((limit + std::chrono::seconds(5)).count()) +
                   " ms (the statement timeout and 5 s)");
      }
      pollfd fd{PQsocket(conn_), POLLIN, 0};
      const int ready = ::poll(&fd, 1, bounded ? static_cast<int>(left.count()) : -1);
      if (ready < 0 && errno != EINTR) throw_lost(std::string("poll: ") + std::strerror(errno));
      if (ready > 0 && PQconsumeInput(conn_) == 0) {
        if (last != nullptr) PQclear(last);
        if (failed != nullptr) PQclear(failed);
        throw_error(nullptr);
      }
    }
    PGresult* result = PQgetResult(conn_);
    if (result == nullptr) break;
    const auto status = PQresultStatus(result);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      if (last != nullptr) PQclear(last);
      last = result;
    } else if (failed == nullptr) {
      failed = result;  // the first error is the one that counts
    } else {
      PQclear(result);
    }
  }
  if (failed != nullptr) {
    if (last != nullptr) PQclear(last);
    throw_error(failed);
  }
  if (last == nullptr) throw_error(nullptr);
  return PgResult(last);
}

void PgSession::throw_lost(const std::string& why) {
  close();
  throw DatabaseError(ErrorCause::kConnectionLost, std::string(sqlstate::kConnectionFailure),
                      "connection lost: " + why);
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
  if (message.empty() && conn_ != nullptr) message = PQerrorMessage(conn_);
  message = without_trailing_space(std::move(message));
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    // The session is gone: whatever the statement said, the next one needs a new connection.
    if (code.substr(0, 2) != "57") code = sqlstate::kConnectionFailure;
    message = "connection lost: " + message;
  }
  throw DatabaseError(sqlstate::cause_of(code), code, logging::scrub(message, secret_));
}

PgTransaction::PgTransaction(PgSession& session, bool read_only)
    : PgTransaction(session, read_only ? Kind::kReadOnly : Kind::kWrite) {}

PgTransaction::PgTransaction(PgSession& session, Kind kind) : session_(session) {
  const auto& limits = session_.limits_;
  const bool read_only = kind == Kind::kReadOnly;
  const auto ms = [](std::chrono::milliseconds value) {
    return "'" + std::to_string(value.count()) + "ms'";
  };
  // One round trip (the simple protocol takes several statements); the values are ours.
  std::string begin = read_only || limits.read_only ? "BEGIN READ ONLY" : "BEGIN";
  begin +=
      "; SET LOCAL statement_timeout = " + ms(limits.statement_timeout) +
      "; SET LOCAL lock_timeout = " + ms(limits.lock_timeout) +
      "; SET LOCAL idle_in_transaction_session_timeout = " + ms(limits.idle_in_transaction_timeout);
  if (limits.check_client_connection) {
    // A backend whose client died (kill -9) stops its statement within a second and releases
    // its locks, instead of running on until the statement ends.
    begin += "; SET LOCAL client_connection_check_interval = '1s'";
  }
  const bool tracked = kind == Kind::kTrackedWrite && !limits.read_only;
  if (tracked) begin += "; SELECT txid_current()::text";
  try {
    const auto result = session_.send_and_wait(begin, nullptr);
    if (tracked) id_ = result.text(0, 0);
  } catch (...) {
    // BEGIN may have succeeded before a SET failed: leave no aborted transaction behind.
    try {
      if (session_.connected()) session_.send_and_wait("ROLLBACK", nullptr);
    } catch (...) {
    }
    throw;
  }
  ++session_.open_transactions_;
}

PgTransaction::~PgTransaction() {
  --session_.open_transactions_;
  if (done_) return;
  try {
    if (session_.connected()) session_.send_and_wait("ROLLBACK", nullptr);
  } catch (...) {
    // The connection is gone or broken; the server rolls back on its own.
  }
}

void PgTransaction::commit() {
  done_ = true;
  try {
    session_.send_and_wait("COMMIT", nullptr);
  } catch (const DatabaseError& e) {
    if (e.kind() == ErrorKind::kRetryable && !session_.connected()) {
      throw DatabaseError(ErrorCause::kInDoubt, e.code(),
                          std::string("commit in doubt: ") + e.what());
    }
    throw;
  }
}

}  // namespace batch_cleanup::store::postgres
