// Sees every transaction that deletes rows, around its COMMIT (the archive file).
#pragma once

#include <vector>

#include "store/batch_types.h"

namespace batch_cleanup::store {

class CommitObserver {
 public:
  virtual ~CommitObserver() = default;
  // Inside the transaction, right before COMMIT, with every row it deleted (row_json set).
  // Throwing DatabaseError aborts the transaction: nothing is deleted.
  virtual void before_commit(const std::vector<PendingRow>& rows) = 0;
  // After before_commit, once the outcome is known: true when COMMIT succeeded, false when the
  // transaction rolled back. Not called when the outcome is in doubt (connection lost during
  // COMMIT) or the process died.
  virtual void after_commit(bool committed) noexcept = 0;
};

}  // namespace batch_cleanup::store
