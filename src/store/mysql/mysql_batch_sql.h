// The statements of MySQL/MariaDB batches: keyset windows over the pending key (InnoDB's
// clustered primary key), each statement carrying its own limits (SET STATEMENT ... FOR), so
// nothing outlives it on a pooled connection.
#pragma once

#include <array>
#include <chrono>
#include <span>
#include <string>
#include <vector>

#include "store/sql/builder.h"
#include "store/sql/predicate.h"

namespace batch_cleanup::store::mysql {

// What the statements name. Identifiers are quoted; `pending` is also the row name the
// predicate qualifies columns with (a single-table DELETE takes no alias on MariaDB).
struct MysqlBatchTables {
  std::string pending;
  std::string key;
  std::string email;
  sql::PredicateSpec predicate;
  bool key_integer = false;  // keyset values bind as integers
};

// The limits every statement of a batch carries.
struct StatementLimits {
  std::chrono::milliseconds statement_timeout{30000};
  std::chrono::milliseconds lock_timeout{2000};
};

// "SET STATEMENT innodb_lock_wait_timeout=L, lock_wait_timeout=L, max_statement_time=S FOR "
// (L in whole seconds, rounded up; `lock_wait_s` overrides L when >= 0: 0 waits for no row lock).
std::string statement_prefix(const StatementLimits& limits, int lock_wait_s = -1);

// Per window kind (index 0: from the start of the pass, 1: after slot "after").
struct MysqlBatchStatements {
  // The window: the next "limit" matching rows (a consistent, non-locking read). One row: how
  // many there are, and the last key.
  std::array<sql::Statement, 2> window;
  // The fast path: one single-table DELETE of the window's matching rows, "upto" its last key,
  // every policy re-checked, waiting for no row lock.
  std::array<sql::Statement, 2> fast_delete;
  // The careful path: the window's free matching rows locked (FOR UPDATE SKIP LOCKED), at most
  // "limit"; without `skip_locked` (statement-based binary logging) read without locks, the
  // DELETE by key then waiting for no row lock. Rows: key, email, reason.
  std::array<sql::Statement, 2> lock;
};

MysqlBatchStatements build_batch_statements(const MysqlBatchTables& tables,
                                            const StatementLimits& limits, bool skip_locked);

// DELETE of the rows whose keys are `keys`, every policy re-checked (the careful path's rows);
// `lock_wait_s` as statement_prefix() takes it.
sql::Statement delete_keys(const MysqlBatchTables& tables, const StatementLimits& limits,
                           std::span<const std::string> keys, int lock_wait_s = -1);
// Which of `keys` still name a row.
sql::Statement remaining_keys(const MysqlBatchTables& tables, std::span<const std::string> keys);

// A keyset value as bound: an integer for an integer key, else text.
sql::Value key_value(const MysqlBatchTables& tables, const std::string& key);

}  // namespace batch_cleanup::store::mysql
