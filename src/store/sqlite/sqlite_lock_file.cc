#include "store/sqlite/sqlite_lock_file.h"

#include <fcntl.h>
#include <sys/file.h>
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

void LockFile::write(const std::string& contents) const noexcept {
  if (fd_ < 0) return;
  if (::ftruncate(fd_, 0) != 0) return;
  const ssize_t written = ::pwrite(fd_, contents.data(), contents.size(), 0);
  (void)written;  // who holds it is for messages only: a failed write changes nothing else
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
