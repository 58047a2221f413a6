#include "config/config_file.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "batch_cleanup/errors.h"
#include "config/database_url.h"

namespace batch_cleanup::config {
namespace {

constexpr std::string_view kJobKey = "job";
constexpr std::string_view kNameKey = "name";

int line_of(const toml::source_region& region) { return static_cast<int>(region.begin.line); }

// One TOML value as text, the way its flag would be given it on the command line.
std::string scalar_text(const toml::node& node, const std::string& path, const std::string& key) {
  if (const auto* s = node.as_string()) return s->get();
  if (const auto* i = node.as_integer()) return std::to_string(i->get());
  if (const auto* f = node.as_floating_point()) return fmt::format("{}", f->get());
  if (const auto* b = node.as_boolean()) return b->get() ? "true" : "false";
  throw ConfigError(fmt::format("{}: key '{}': use a string, a number or a boolean",
                                file_location(path, line_of(node.source())), key));
}

FileEntry make_entry(const toml::key& key, const toml::node& node, const std::string& path) {
  FileEntry entry;
  entry.key = std::string(key.str());
  entry.line = line_of(key.source());
  if (node.is_table()) {
    throw ConfigError(
        fmt::format("{}: key '{}': a table is not allowed here (only [[job]] tables are)",
                    file_location(path, entry.line), entry.key));
  }
  if (const auto* array = node.as_array()) {
    entry.array = true;
    for (const auto& element : *array) {
      if (element.is_array() || element.is_table()) {
        throw ConfigError(fmt::format("{}: key '{}': an array of plain values is expected",
                                      file_location(path, entry.line), entry.key));
      }
      entry.values.push_back(scalar_text(element, path, entry.key));
    }
  } else {
    entry.values.push_back(scalar_text(node, path, entry.key));
    entry.quoted = node.is_string();
  }
  return entry;
}

bool valid_job_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

FileJob make_job(const toml::table& table, const std::string& path) {
  FileJob job;
  job.line = line_of(table.source());
  for (const auto& [key, node] : table) {
    if (key.str() != kNameKey) {
      job.entries.push_back(make_entry(key, node, path));
      continue;
    }
    job.line = line_of(key.source());
    const auto* name = node.as_string();
    if (name == nullptr || !valid_job_name(name->get())) {
      throw ConfigError(fmt::format(
          "{}: job name: use 1 to 64 letters, digits, '_', '.' or '-' (a quoted string)",
          file_location(path, job.line)));
    }
    job.name = name->get();
  }
  if (job.name.empty()) {
    throw ConfigError(fmt::format("{}: [[job]] without a name: add name = \"...\"",
                                  file_location(path, job.line)));
  }
  return job;
}

}  // namespace

std::string file_location(const std::string& path, int line) {
  return fmt::format("{}:{}", path, line);
}

ConfigFile parse_config_file(std::string_view text, const std::string& path) {
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    // toml++ may quote a piece of the line (a URL's password): scrubbed of every value's secrets.
    std::string description(e.description());
    std::size_t start = 0;
    while (start < text.size()) {
      auto end = text.find('\n', start);
      if (end == std::string_view::npos) end = text.size();
      const auto line = text.substr(start, end - start);
      if (const auto equals = line.find('='); equals != std::string_view::npos) {
        auto value = line.substr(equals + 1);
        while (!value.empty() &&
               (value.front() == ' ' || value.front() == '"' || value.front() == '\'')) {
          value.remove_prefix(1);
        }
        while (!value.empty() && (value.back() == ' ' || value.back() == '"' ||
                                  value.back() == '\'' || value.back() == '\r')) {
          value.remove_suffix(1);
        }
        description = scrub_secrets(std::move(description), value);
      }
      start = end + 1;
    }
    throw ConfigError(fmt::format("{}: {}", file_location(path, line_of(e.source())), description));
  }
  ConfigFile file;
  file.path = path;
  for (const auto& [key, node] : root) {
    if (key.str() != kJobKey) {
      file.top.push_back(make_entry(key, node, path));
      continue;
    }
    const auto* jobs = node.as_array();
    if (jobs == nullptr || !jobs->is_array_of_tables()) {
      throw ConfigError(fmt::format("{}: 'job' must be an array of tables: write [[job]]",
                                    file_location(path, line_of(key.source()))));
    }
    for (const auto& job : *jobs) file.jobs.push_back(make_job(*job.as_table(), path));
  }
  return file;
}

ConfigFile read_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError(
        fmt::format("cannot read configuration file '{}': {}", path, std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config_file(text.str(), path);
}

}  // namespace batch_cleanup::config
