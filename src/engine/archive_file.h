// The archive file: every deleted row as one NDJSON line, durable before its batch commits.
//
// Lines (one JSON object each, appended, never rewritten):
//   {"type":"row","batch":B,"cycle_id":C,"archived_at":T,"key":K,"row":{...the whole row...}}
//   {"type":"commit","batch":B}      the batch's transaction committed
//   {"type":"rollback","batch":B}    it rolled back: its rows were not deleted
//   {"type":"reconciled","batch":B,"rolled_back_keys":[...]}
// Row lines of a batch are written and fsynced before its COMMIT, so no committed deletion is
// missing from the file. A batch whose outcome was never written (the process was killed
// between the fsync and the outcome line, or the connection died during COMMIT) is reconciled
// when the next cycle starts, by asking the database which of its keys still exist: those rows
// were not deleted and are listed in rolled_back_keys; every other row of the batch was.
// A row line counts as deleted when its batch has a commit line, or a reconciled line that does
// not list its key. A torn last line (a crash inside write()) is ignored.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/batch_store.h"
#include "store/commit_observer.h"

namespace batch_cleanup::engine {

// Thread-safe: the workers of a cycle (--workers) share one file, each thread with at most one
// batch between before_commit and after_commit.
class ArchiveFile final : public store::CommitObserver {
 public:
  // Opens (creating, mode 0600: the file holds personal data) `path` for appending. Throws
  // ConfigError when it cannot be opened.
  explicit ArchiveFile(std::string path);
  ~ArchiveFile() override;
  ArchiveFile(const ArchiveFile&) = delete;
  ArchiveFile& operator=(const ArchiveFile&) = delete;

  // Resolves every batch without an outcome line: on the first call, those found in the file;
  // then those left in doubt by this process. Returns how many batches were reconciled.
  // Throws DatabaseError (from the store) and DatabaseError(kFatal) on an I/O error.
  int reconcile(store::BatchStore& store);

  // Names the cycle whose batches follow.
  void begin_cycle(const std::string& cycle_id);

  void before_commit(const std::vector<store::PendingRow>& rows) override;
  void after_commit(bool committed) noexcept override;

 private:
  void append(const std::string& text, bool sync);
  std::map<std::string, std::vector<std::string>> unresolved_in_file();

  std::string path_;
  int fd_ = -1;
  bool file_scanned_ = false;
  std::string cycle_id_;
  long long batch_seq_ = 0;
  std::mutex mutex_;
  // Per thread: the batch between before_commit and after_commit.
  std::map<std::thread::id, std::string> open_batches_;
  std::map<std::string, std::vector<std::string>> in_doubt_;  // batch -> keys
};

}  // namespace batch_cleanup::engine
