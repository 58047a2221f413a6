// Files that may hold personal data (the log file, the archive file, the metrics textfile):
// created readable by their owner only, in a directory that must already exist.
#pragma once

#include <optional>
#include <string>

namespace batch_cleanup::util {

// Checks that the directory of `path` exists (ConfigError "invalid FLAG 'PATH': directory ...
// does not exist" otherwise: it is never created), and, with `create`, creates the file with
// mode 0600 when it does not exist (an existing file is not changed). Returns a warning when
// the file exists and grants its group or others any permission; std::nullopt otherwise.
std::optional<std::string> prepare_private_file(const std::string& path, const char* flag,
                                                bool create);

// The warning prepare_private_file gives for an existing file, without creating anything.
std::optional<std::string> wide_permissions_warning(const std::string& path, const char* flag);

}  // namespace batch_cleanup::util
