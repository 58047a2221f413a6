#include "store/mysql/mysql_session.h"

#include <fmt/format.h>
#include <mysql.h>

#include <cmath>
#include <memory>
#include <stdexcept>

#include "batch_cleanup/errors.h"
#include "store/mysql/mysql_dialect.h"
#include "store/mysql/mysql_errors.h"

namespace batch_cleanup::store::mysql {
namespace {

unsigned seconds_up(std::chrono::milliseconds ms) {
  return static_cast<unsigned>(std::max<long long>(1, (ms.count() + 999) / 1000));
}

// "10.11.19-MariaDB-0+deb12u1" -> 101119; "8.0.36" -> 80036.
int version_number(const std::string& text) {
  int major = 0;
  int minor = 0;
  int patch = 0;
  std::sscanf(text.c_str(), "%d.%d.%d", &major, &minor, &patch);  // NOLINT(cert-err34-c)
  return major * 10000 + minor * 100 + patch;
}

// The end of the quoted text or comment starting at `at`, or `at` when none starts there.
std::size_t skip_quoted(const std::string& text, std::size_t at) {
  const char c = text[at];
  if (c == '\'' || c == '"' || c == '`') {
    for (std::size_t i = at + 1; i < text.size(); ++i) {
      if (text[i] == '\\' && c != '`') {
        ++i;
      } else if (text[i] == c) {
        if (i + 1 < text.size() && text[i + 1] == c) {
          ++i;  // doubled quote
        } else {
          return i + 1;
        }
      }
    }
    return text.size();
  }
  if (c == '-' && text.compare(at, 3, "-- ") == 0) {
    const auto end = text.find('\n', at);
    return end == std::string::npos ? text.size() : end;
  }
  if (c == '/' && text.compare(at, 2, "/*") == 0) {
    const auto end = text.find("*/", at + 2);
    return end == std::string::npos ? text.size() : end + 2;
  }
  return at;
}

}  // namespace

MysqlSession::MysqlSession(config::MysqlTarget target) : target_(std::move(target)) {}

MysqlSession::~MysqlSession() { close(); }

st_mysql* MysqlSession::open_handle(std::chrono::milliseconds connect_timeout,
                                    std::chrono::milliseconds read_timeout) const {
  MYSQL* handle = mysql_init(nullptr);
  if (handle == nullptr) throw DatabaseError(ErrorCause::kOther, "", "mysql_init: out of memory");
  // The [client] group of the option files (~/.my.cnf), as the mysql client reads them; the
  // URL's parts override it. Without a password in the URL, Connector/C reads MYSQL_PWD.
  mysql_optionsv(handle, MYSQL_READ_DEFAULT_GROUP, "client");
  const unsigned connect_s = seconds_up(connect_timeout);
  const unsigned read_s = seconds_up(read_timeout);
  mysql_optionsv(handle, MYSQL_OPT_CONNECT_TIMEOUT, &connect_s);
  mysql_optionsv(handle, MYSQL_OPT_READ_TIMEOUT, &read_s);
  mysql_optionsv(handle, MYSQL_OPT_WRITE_TIMEOUT, &read_s);
  mysql_optionsv(handle, MYSQL_SET_CHARSET_NAME, target_.charset.c_str());
  const my_bool no = 0;
  mysql_optionsv(handle, MYSQL_OPT_RECONNECT, &no);
  if (target_.ssl_mode == "preferred") {
    mysql_ssl_set(handle, nullptr, nullptr, nullptr, nullptr, nullptr);
  } else if (target_.ssl_mode == "required" || target_.ssl_mode == "verify-ca" ||
             target_.ssl_mode == "verify-identity") {
    const my_bool yes = 1;
    mysql_optionsv(handle, MYSQL_OPT_SSL_ENFORCE, &yes);
    const my_bool verify = target_.ssl_mode != "required" ? 1 : 0;
    mysql_optionsv(handle, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
  }
  const char* host = target_.host.empty() ? nullptr : target_.host.c_str();
  const char* user = target_.user.empty() ? nullptr : target_.user.c_str();
  const char* password = target_.has_password ? target_.password.c_str() : nullptr;
  const char* socket = target_.socket.empty() ? nullptr : target_.socket.c_str();
  if (mysql_real_connect(handle, host, user, password, target_.database.c_str(), target_.port,
                         socket, CLIENT_FOUND_ROWS) == nullptr) {
    const unsigned code = mysql_errno(handle);
    std::string message = mysql_error(handle);
    mysql_close(handle);
    if (!target_.password.empty()) {
      for (auto at = message.find(target_.password); at != std::string::npos;
           at = message.find(target_.password, at + 3)) {
        message.replace(at, target_.password.size(), "***");
      }
    }
    throw DatabaseError(cause_of(code), std::to_string(code), "cannot connect: " + message);
  }
  return handle;
}

void MysqlSession::connect(std::chrono::milliseconds connect_timeout,
                           std::chrono::milliseconds read_timeout) {
  close();
  connect_timeout_ = connect_timeout;
  handle_ = open_handle(connect_timeout, read_timeout);
  ++generation_;
  thread_id_ = mysql_thread_id(handle_);
  version_ = mysql_get_server_info(handle_);
  mariadb_ = version_.find("MariaDB") != std::string::npos;
  version_num_ = version_number(version_);
  // Times the tool writes are UTC; || concatenates (the shared SQL's operator).
  exec(
      "SET SESSION time_zone = '+00:00', SESSION sql_mode = CONCAT(@@SESSION.sql_mode, "
      "',PIPES_AS_CONCAT')");
  const auto binlog = exec("SELECT @@log_bin, @@binlog_format");
  binlog_ = binlog.integer(0, 0) != 0 ? "binlog_format=" + binlog.text(0, 1) : "binary log off";
  statement_binlog_ = binlog_ == "binlog_format=STATEMENT";
  // Autocommit writes too (the lease, the history) must not run under READ COMMITTED there.
  if (statement_binlog_) exec("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ");
}

void MysqlSession::close() noexcept {
  if (handle_ != nullptr) mysql_close(handle_);
  handle_ = nullptr;
  in_transaction_ = false;
  thread_id_ = 0;
}

void MysqlSession::fail(const std::string& context) {
  const unsigned code = mysql_errno(handle_);
  const std::string message = mysql_error(handle_);
  ErrorCause cause = cause_of(code, message);
  if (cause == ErrorCause::kConnectionLost) {
    close();
  } else if (code == 1213 || code == 1180) {
    in_transaction_ = false;  // InnoDB rolled the whole transaction back
  }
  (void)context;
  throw DatabaseError(cause, std::to_string(code), message);
}

std::string MysqlSession::literal(const sql::Value& value) const {
  if (std::holds_alternative<std::monostate>(value)) return "NULL";
  if (const auto* number = std::get_if<std::int64_t>(&value)) return std::to_string(*number);
  if (const auto* real = std::get_if<double>(&value)) {
    if (!std::isfinite(*real)) return "NULL";
    return fmt::format("{}", *real);
  }
  const auto& text = std::get<std::string>(value);
  std::string out(text.size() * 2 + 3, '\0');
  out[0] = '\'';
  const unsigned long n = mysql_real_escape_string(handle_, out.data() + 1, text.data(),
                                                   static_cast<unsigned long>(text.size()));
  out.resize(n + 1);
  return out + "'";
}

sql::Rows MysqlSession::exec(const std::string& text, const std::vector<sql::Value>& params) {
  if (handle_ == nullptr) {
    throw DatabaseError(ErrorCause::kConnectionLost, "2006", "not connected to the server");
  }
  std::string query;
  query.reserve(text.size() + 16 * params.size());
  std::size_t next = 0;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t end = skip_quoted(text, i);
    if (end != i) {
      query.append(text, i, end - i);
      i = end;
      continue;
    }
    if (text[i] == '?') {
      if (next >= params.size()) throw std::logic_error("too few parameters for: " + text);
      query += literal(params[next++]);
    } else {
      query += text[i];
    }
    ++i;
  }
  if (next != params.size()) throw std::logic_error("too many parameters for: " + text);
  if (mysql_real_query(handle_, query.data(), static_cast<unsigned long>(query.size())) != 0) {
    fail(query);
  }
  sql::Rows rows;
  std::unique_ptr<MYSQL_RES, void (*)(MYSQL_RES*)> result(mysql_store_result(handle_),
                                                          &mysql_free_result);
  if (!result) {
    if (mysql_field_count(handle_) != 0) fail(query);
    rows.affected = static_cast<std::int64_t>(mysql_affected_rows(handle_));
    return rows;
  }
  const unsigned columns = mysql_num_fields(result.get());
  while (MYSQL_ROW row = mysql_fetch_row(result.get())) {
    const unsigned long* lengths = mysql_fetch_lengths(result.get());
    sql::Rows::Row out;
    out.reserve(columns);
    for (unsigned c = 0; c < columns; ++c) {
      if (row[c] == nullptr) {
        out.emplace_back(std::nullopt);
      } else {
        out.emplace_back(std::string(row[c], lengths[c]));
      }
    }
    rows.add(std::move(out));
  }
  return rows;
}

void MysqlSession::begin(bool read_only) {
  exec(statement_binlog_ ? "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"
                         : "SET TRANSACTION ISOLATION LEVEL READ COMMITTED");
  exec(read_only ? "START TRANSACTION READ ONLY" : "START TRANSACTION");
  in_transaction_ = true;
}

void MysqlSession::commit() {
  if (handle_ == nullptr) {
    throw DatabaseError(ErrorCause::kConnectionLost, "2006", "not connected to the server");
  }
  in_transaction_ = false;
  if (mysql_real_query(handle_, "COMMIT", 6) != 0) {
    const unsigned code = mysql_errno(handle_);
    const std::string message = mysql_error(handle_);
    if (cause_of(code) == ErrorCause::kConnectionLost) {
      close();
      throw DatabaseError(ErrorCause::kInDoubt, std::to_string(code),
                          "the connection was lost during COMMIT: " + message);
    }
    throw DatabaseError(cause_of(code), std::to_string(code), message);
  }
}

void MysqlSession::rollback() noexcept {
  if (!in_transaction_) return;
  in_transaction_ = false;
  if (handle_ != nullptr && mysql_real_query(handle_, "ROLLBACK", 8) != 0) close();
}

void MysqlSession::cancel() noexcept {
  const unsigned long id = thread_id_;
  if (id == 0) return;
  try {
    MYSQL* killer = open_handle(connect_timeout_, std::chrono::seconds(5));
    const std::string kill = "KILL QUERY " + std::to_string(id);
    mysql_real_query(killer, kill.data(), static_cast<unsigned long>(kill.size()));
    mysql_close(killer);
  } catch (...) {
    // The statement runs on until its own timeout.
  }
}

namespace {

class MysqlTransaction final : public sql::Transaction {
 public:
  MysqlTransaction(MysqlSession& session, bool read_only) : session_(session) {
    session_.begin(read_only);
  }
  ~MysqlTransaction() override { session_.rollback(); }
  MysqlTransaction(const MysqlTransaction&) = delete;
  MysqlTransaction& operator=(const MysqlTransaction&) = delete;
  void commit() override { session_.commit(); }

 private:
  MysqlSession& session_;
};

}  // namespace

const sql::Dialect& MysqlExecutor::dialect() const { return mysql_dialect(); }

std::unique_ptr<sql::Transaction> MysqlExecutor::begin(bool read_only) {
  return std::make_unique<MysqlTransaction>(session_, read_only);
}

}  // namespace batch_cleanup::store::mysql
