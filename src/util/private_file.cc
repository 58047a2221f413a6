#include "util/private_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "batch_cleanup/errors.h"

namespace batch_cleanup::util {

std::optional<std::string> wide_permissions_warning(const std::string& path, const char* flag) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return std::nullopt;
  if ((info.st_mode & 077) == 0) return std::nullopt;
  return fmt::format(
      "{} '{}' has mode {:04o}: others than its owner can read what it holds (emails with "
      "--log-pii, archived rows). HINT: chmod 600 '{}'",
      flag, path, info.st_mode & 07777, path);
}

std::optional<std::string> prepare_private_file(const std::string& path, const char* flag,
                                                bool create) {
  const auto parent = std::filesystem::path(path).parent_path();
  std::error_code error;
  if (!parent.empty() && !std::filesystem::is_directory(parent, error)) {
    throw ConfigError(
        fmt::format("invalid {} '{}': directory '{}' does not exist (it is not "
                    "created: create it with the owner and mode it needs)",
                    flag, path, parent.string()));
  }
  if (create) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      ::close(fd);
      return std::nullopt;
    }
    if (errno != EEXIST) {
      throw ConfigError(fmt::format("cannot create {} '{}': {}", flag, path, std::strerror(errno)));
    }
  }
  return wide_permissions_warning(path, flag);
}

}  // namespace batch_cleanup::util
