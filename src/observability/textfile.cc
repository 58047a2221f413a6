#include "observability/textfile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "batch_cleanup/errors.h"

namespace batch_cleanup::observability {
namespace {

std::string directory_of(const std::string& path) {
  const auto parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw std::runtime_error(what + " " + path + ": " + std::strerror(errno));
}

}  // namespace

void write_file_atomically(const std::string& path, const std::string& text) {
  const std::string temp = path + "." + std::to_string(getpid()) + ".tmp";
  // 0600 unless the file exists with another mode, which it keeps (an operator may have made
  // it readable by a collector running as another user; check_writable_location warned).
  mode_t mode = 0600;
  struct stat existing {};
  if (stat(path.c_str(), &existing) == 0 && S_ISREG(existing.st_mode)) {
    mode = existing.st_mode & 0666;
  }
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail("cannot create", temp);
  std::size_t written = 0;
  while (written < text.size()) {
    const auto n = write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      close(fd);
      unlink(temp.c_str());
      errno = error;
      fail("cannot write", temp);
    }
    written += static_cast<std::size_t>(n);
  }
  if (fchmod(fd, mode) != 0 || fsync(fd) != 0) {
    const int error = errno;
    close(fd);
    unlink(temp.c_str());
    errno = error;
    fail("cannot sync", temp);
  }
  close(fd);
  if (rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    unlink(temp.c_str());
    errno = error;
    fail("cannot rename " + temp + " to", path);
  }
}

void check_writable_location(const std::string& path, const char* flag) {
  const auto directory = directory_of(path);
  if (std::filesystem::is_directory(path)) {
    throw ConfigError(std::string("invalid ") + flag + " '" + path +
                      "': it is a directory; name the file, e.g. " + path + "/batch_cleanup.prom");
  }
  if (!std::filesystem::is_directory(directory)) {
    throw ConfigError(std::string("invalid ") + flag + " '" + path + "': directory '" + directory +
                      "' does not exist (it is not created)");
  }
  if (access(directory.c_str(), W_OK | X_OK) != 0) {
    throw ConfigError(std::string("invalid ") + flag + " '" + path + "': cannot create files in " +
                      directory + ": " + std::strerror(errno));
  }
}

}  // namespace batch_cleanup::observability
