// An exclusive, non-blocking flock() on a companion file: the one-active-instance lock of the
// SQLite backend. The lock belongs to the open file description, so it is released when the
// process exits for any reason (kill -9 included); the file itself is left in place.
#pragma once

#include <string>

namespace batch_cleanup::store::sqlite {

class LockFile {
 public:
  explicit LockFile(std::string path) : path_(std::move(path)) {}
  ~LockFile() { unlock(); }
  LockFile(const LockFile&) = delete;
  LockFile& operator=(const LockFile&) = delete;

  // Creates the file when missing (mode 0644) and tries to lock it without waiting. Returns
  // false when another process holds it. Throws ConfigError when the file cannot be opened.
  bool try_lock();

  // Releases the lock if held. Never throws.
  void unlock() noexcept;

  bool held() const { return fd_ >= 0; }
  // While held: replaces the file's contents (who holds it). Never throws.
  void write(const std::string& contents) const noexcept;
  // The file's contents ("" when it cannot be read). Never throws.
  std::string read() const noexcept;
  // Whether another process holds the lock now (a probe that takes and drops it at once).
  bool held_elsewhere() const noexcept;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace batch_cleanup::store::sqlite
