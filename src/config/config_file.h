// The configuration file (--config FILE, TOML), read into plain entries: its top-level keys and
// its [[job]] tables, each entry with its line. Nothing here knows the options: checking the
// keys and converting the values is resolve_config()'s (config/resolve_config.h).
//
// The file's keys are the long option names of option_table() (option_spec.h) without the dashes
// ("batch-size", or "batch_size"); values are strings, integers, floats, booleans, or arrays of
// them. A file may declare several jobs ([[job]] tables, each with a `name`); top-level keys are
// defaults for every job.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace batch_cleanup::config {

// One `key = value` of the file, not yet checked against the options.
struct FileEntry {
  std::string key;                  // as written
  std::vector<std::string> values;  // one text per value (arrays: one per element)
  bool array = false;
  bool quoted = false;  // a single value written as a TOML string ("yes"), not a bare one
  int line = 0;
};

struct FileJob {
  std::string name;
  int line = 0;  // the line of its `name`
  std::vector<FileEntry> entries;
};

struct ConfigFile {
  std::string path;
  std::vector<FileEntry> top;  // top-level keys
  std::vector<FileJob> jobs;   // empty: the file has no [[job]] tables
};

// "PATH:LINE", the prefix of every message about a place in the file.
std::string file_location(const std::string& path, int line);

// Parses TOML text (syntax, value types, job names: valid and present; not their uniqueness).
// Throws ConfigError "PATH:LINE: ...".
ConfigFile parse_config_file(std::string_view text, const std::string& path);

// Reads and parses a file. Throws ConfigError when it cannot be read or parsed.
ConfigFile read_config_file(const std::string& path);

}  // namespace batch_cleanup::config
