// Sees every transaction that deletes rows, around its COMMIT (the archive file).
#pragma once

#include <vector>

#include "batch_cleanup/errors.h"
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

// The one contract every store keeps around a deleting transaction's COMMIT: `commit()` runs
// between `observer`'s before_commit(rows) and after_commit(true); after_commit(false) when the
// COMMIT failed and the transaction rolled back; neither when its outcome is in doubt (a
// DatabaseError of cause kInDoubt: the engine asks the database later). Without an observer, or
// without rows, only `commit()` runs.
template <typename Commit>
void commit_observed(CommitObserver* observer, const std::vector<PendingRow>& rows,
                     Commit&& commit) {
  if (rows.empty()) observer = nullptr;
  if (observer != nullptr) observer->before_commit(rows);
  try {
    commit();
  } catch (const DatabaseError& e) {
    if (observer != nullptr && e.cause() != ErrorCause::kInDoubt) observer->after_commit(false);
    throw;
  } catch (...) {
    if (observer != nullptr) observer->after_commit(false);
    throw;
  }
  if (observer != nullptr) observer->after_commit(true);
}

}  // namespace batch_cleanup::store
