// One connection to a MySQL or MariaDB server through MariaDB Connector/C: connect, run a
// statement (the builder's positional ? markers filled with escaped literals on the client,
// outside quotes and comments), transactions under READ COMMITTED, a cancel from any thread
// (KILL QUERY on a connection of its own). Every error is a DatabaseError with the cause of its
// error number (mysql_errors.cc); the number is kept in code().
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "config/mysql_url.h"
#include "store/sql/builder.h"
#include "store/sql/executor.h"
#include "store/sql/value.h"

struct st_mysql;

namespace batch_cleanup::store::mysql {

class MysqlSession {
 public:
  explicit MysqlSession(config::MysqlTarget target);
  ~MysqlSession();
  MysqlSession(const MysqlSession&) = delete;
  MysqlSession& operator=(const MysqlSession&) = delete;

  // Opens the connection (closing any previous one); `read_timeout`: how long the client waits
  // for a server that stops answering.
  void connect(std::chrono::milliseconds connect_timeout, std::chrono::milliseconds read_timeout);
  void close() noexcept;
  bool connected() const { return handle_ != nullptr; }
  // Connections opened so far (a reconnect makes a new one).
  int generation() const { return generation_; }

  // Runs `text`, its ? markers replaced by `params` in order. Rows as text; affected rows.
  sql::Rows exec(const std::string& text, const std::vector<sql::Value>& params = {});
  sql::Rows run(const sql::Statement& statement, const sql::Slots& slots = {}) {
    return exec(statement.text(), statement.values(slots));
  }

  // READ COMMITTED, for this transaction only (REPEATABLE READ under statement-based binary
  // logging, where InnoDB refuses to log writes made under READ COMMITTED: ERROR 1665); READ
  // ONLY with `read_only`.
  void begin(bool read_only);
  // COMMIT; a connection lost during it is ErrorCause::kInDoubt.
  void commit();
  void rollback() noexcept;
  bool in_transaction() const { return in_transaction_; }

  // Interrupts the statement in flight (KILL QUERY from a connection of its own). Any thread.
  void cancel() noexcept;

  bool mariadb() const { return mariadb_; }
  // The server writes a binary log in statement format (@@log_bin and the session's
  // @@binlog_format, read at connect): SKIP LOCKED is unsafe there, and READ COMMITTED writes
  // are refused.
  bool statement_binlog() const { return statement_binlog_; }
  // "binary log off", "binlog_format=ROW", ...: for explain.
  const std::string& binlog() const { return binlog_; }
  // The server's version as a number: 10.11.19 -> 101119, 8.0.36 -> 80036.
  int version_num() const { return version_num_; }
  const std::string& version() const { return version_; }

  // `value` as an SQL literal for this connection's character set.
  std::string literal(const sql::Value& value) const;

 private:
  [[noreturn]] void fail(const std::string& context);
  st_mysql* open_handle(std::chrono::milliseconds connect_timeout,
                        std::chrono::milliseconds read_timeout) const;

  config::MysqlTarget target_;
  st_mysql* handle_ = nullptr;
  int generation_ = 0;
  bool in_transaction_ = false;
  bool mariadb_ = true;
  bool statement_binlog_ = false;
  std::string binlog_;
  int version_num_ = 0;
  std::string version_;
  std::atomic<unsigned long> thread_id_{0};
  std::chrono::milliseconds connect_timeout_{3000};
};

// Runs the statements written once (store/sql) on a MysqlSession.
class MysqlExecutor final : public sql::Executor {
 public:
  explicit MysqlExecutor(MysqlSession& session) : session_(session) {}
  const sql::Dialect& dialect() const override;
  sql::Rows run(const sql::Statement& statement, const sql::Slots& slots) override {
    return session_.run(statement, slots);
  }
  std::unique_ptr<sql::Transaction> begin(bool read_only) override;

 private:
  MysqlSession& session_;
};

}  // namespace batch_cleanup::store::mysql
