// Writing an exposition for node_exporter's textfile collector (--metrics-file).
#pragma once

#include <string>

namespace batch_cleanup::observability {

// Replaces the file at `path` with `text` atomically: the text goes to a temporary file in the
// same directory (named PATH.<pid>.tmp, which the collector's *.prom pattern does not match),
// is fsynced, made readable by all (0644) and renamed over `path`. A reader sees the old file or
// the new one, never a part. Throws std::runtime_error naming the path and the system's error.
void write_file_atomically(const std::string& path, const std::string& text);

// Throws ConfigError when no file can be created at `path` (its directory is missing or not
// writable), so that a bad --metrics-file fails at startup rather than after the first cycle.
void check_writable_location(const std::string& path, const char* flag);

}  // namespace batch_cleanup::observability
