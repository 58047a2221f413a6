#include "store/sqlite/sqlite_lock_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "batch_cleanup/errors.h"

namespace batch_cleanup::store::sqlite {

bool LockFile::try_lock() {
  if (fd_ >= 0) return true;
  const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw ConfigError("cannot open the instance lock file '" + path_ +
                      "': " + std::strerror(errno) +
                      ". HINT: the directory of the SQLite file must be writable");
  }
  int rc;
  do {
    rc = ::flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int error = errno;
    ::close(fd);
    if (error == EWOULDBLOCK) return false;
    throw ConfigError("cannot lock the instance lock file '" + path_ +
                      "': " + std::strerror(error));
  }
  fd_ = fd;
  return true;
}

void LockFile::unlock() noexcept {
  if (fd_ < 0) return;
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
  fd_ = -1;
}

// Never empty for a reader (another instance asking who holds the lock): the new lines are
// written over the old ones, padded with empty lines (which readers skip) to the old length,
// and only then is the file cut to its new length.
void LockFile::write(const std::string& contents) const noexcept {
  if (fd_ < 0) return;
  struct stat now {};
  std::string padded = contents;
  if (::fstat(fd_, &now) == 0 && static_cast<std::size_t>(now.st_size) > padded.size()) {
    padded.append(static_cast<std::size_t>(now.st_size) - padded.size(), '\n');
  }
  const ssize_t written = ::pwrite(fd_, padded.data(), padded.size(), 0);
  // Who holds it is for messages only: a failed write changes nothing else.
  if (written != static_cast<ssize_t>(padded.size())) return;
  if (padded.size() > contents.size() &&
      ::ftruncate(fd_, static_cast<off_t>(contents.size())) != 0) {
    return;
  }
}

std::string LockFile::read() const noexcept {
  try {
    std::ifstream in(path_);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  } catch (...) {
    return {};
  }
}

bool LockFile::held_elsewhere() const noexcept {
  if (fd_ >= 0) return false;
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool held = ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);  // closing drops the probe's lock, if it got it
  return held;
}

}  // namespace batch_cleanup::store::sqlite
