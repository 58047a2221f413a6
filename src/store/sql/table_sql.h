// Statements over the cleaned and archive tables that need no batch algorithm, written once.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "store/sql/executor.h"

namespace batch_cleanup::store::sql {

// Which of `keys` (text form) name a row of `pending` (quoted) now; `key_type` is the key
// column's type (what the dialect casts a text key to).
std::vector<std::string> existing_keys(Executor& executor, const std::string& pending,
                                       const std::string& key, const std::string& key_type,
                                       const std::vector<std::string>& keys);

// Deletes rows of `archive` (quoted) whose archived_at is more than `older_than` ago, in
// transactions of at most `batch_rows` rows. Returns how many.
std::int64_t purge_archived(Executor& executor, const std::string& archive,
                            std::chrono::milliseconds older_than, std::int64_t batch_rows);

}  // namespace batch_cleanup::store::sql
