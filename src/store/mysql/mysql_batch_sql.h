// The statements of MySQL/MariaDB batches: keyset windows over the pending key (InnoDB's
// clustered primary key), each statement carrying its own limits (SET STATEMENT ... FOR), so
// nothing outlives it on a pooled connection.
#pragma once

#include <array>
#include <chrono>
#include <span>
#include <string>
#include <string_view>
#include <utility>
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
  // The archive table (BatchPlan::archive), quoted; empty: batches archive nothing.
  std::string archive;
  // The pending table's columns, quoted, in order: what the archive copies.
  std::vector<std::string> columns;
  // The whole row as the archive file takes it: (column name, expression over `pending`), for
  // JSON_OBJECT; bytes as hex.
  std::vector<std::pair<std::string, std::string>> json_fields;
};

// The limits every statement of a batch carries.
struct StatementLimits {
  std::chrono::milliseconds statement_timeout{30000};
  std::chrono::milliseconds lock_timeout{2000};
};

// "SET STATEMENT innodb_lock_wait_timeout=L, lock_wait_timeout=L, max_statement_time=S FOR "
// (L in whole seconds, rounded up; `lock_wait_s` overrides L when >= 0: 0 waits for no row lock).
std::string statement_prefix(const StatementLimits& limits, int lock_wait_s = -1);

// The kind of a window: whether it starts after a key (slot "after": the pass's last key, or a
// worker's slice's lower bound) and whether it ends at a worker's slice's upper bound (slot
// "slice_end", included).
struct WindowKind {
  bool after = false;
  bool slice_end = false;
  std::size_t index() const { return (after ? 1U : 0U) + (slice_end ? 2U : 0U); }
};

// Per window kind (WindowKind::index()).
struct MysqlBatchStatements {
  // The window: the next "limit" matching rows (a consistent, non-locking read). One row: how
  // many there are, and the last key (never past "slice_end").
  std::array<sql::Statement, 4> window;
  // The fast path: one single-table DELETE of the window's matching rows, "upto" its last key,
  // every policy re-checked, waiting for no row lock.
  std::array<sql::Statement, 4> fast_delete;
  // The careful path: the window's free matching rows locked (FOR UPDATE SKIP LOCKED), at most
  // "limit"; without `skip_locked` (statement-based binary logging) read without locks, the
  // DELETE by key then waiting for no row lock. Rows: key, email, reason.
  std::array<sql::Statement, 4> lock;
  // The same, each row also as a JSON object (RowDetail::kWholeRows: the archive file).
  std::array<sql::Statement, 4> lock_whole;
  // For a worker's slices: the pending table's rows, and the key at slot "offset" (0-based) of
  // the key order (no row past the end).
  sql::Statement row_count;
  sql::Statement slice_bound;
};

MysqlBatchStatements build_batch_statements(const MysqlBatchTables& tables,
                                            const StatementLimits& limits, bool skip_locked);

// DELETE of the rows whose keys are `keys`, every policy re-checked (the careful path's rows);
// `lock_wait_s` as statement_prefix() takes it.
sql::Statement delete_keys(const MysqlBatchTables& tables, const StatementLimits& limits,
                           std::span<const std::string> keys, int lock_wait_s = -1);
// Appends "<row>.key IN (?, ...)" with `keys` bound as key_value() binds them.
void append_key_list(sql::Builder& b, const MysqlBatchTables& tables, std::string_view row,
                     std::span<const std::string> keys);
// With the archive: the rows of `keys` (locked by this transaction, every policy checked by the
// lock) copied into the archive table under `cycle`, each with `reason`.
sql::Statement archive_keys(const MysqlBatchTables& tables, const StatementLimits& limits,
                            std::span<const std::string> keys, const std::string& cycle,
                            const std::string& reason);
// With the archive: DELETE of exactly the rows of `keys` (archived by archive_keys() in the
// same transaction), not checked again, so that the rows deleted are the rows archived.
sql::Statement delete_archived(const MysqlBatchTables& tables, const StatementLimits& limits,
                               std::span<const std::string> keys);
// Which of `keys` still name a row.
sql::Statement remaining_keys(const MysqlBatchTables& tables, std::span<const std::string> keys);

// A keyset value as bound: an integer for an integer key, else text.
sql::Value key_value(const MysqlBatchTables& tables, const std::string& key);

}  // namespace batch_cleanup::store::mysql
