#include "config/config_file.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "batch_cleanup/errors.h"
#include "config/database_url.h"

namespace batch_cleanup::config {
namespace {

constexpr std::string_view kJobKey = "job";
constexpr std::string_view kNameKey = "name";

int line_of(const toml::source_region& region) { return static_cast<int>(region.begin.line); }

std::string location(const std::string& path, int line) { return fmt::format("{}:{}", path, line); }

// The text CLI11 receives for one TOML value.
std::string scalar_text(const toml::node& node, const std::string& path, const std::string& key) {
  if (const auto* s = node.as_string()) return s->get();
  if (const auto* i = node.as_integer()) return std::to_string(i->get());
  if (const auto* f = node.as_floating_point()) return fmt::format("{}", f->get());
  if (const auto* b = node.as_boolean()) return b->get() ? "true" : "false";
  throw ConfigError(fmt::format("{}: key '{}': use a string, a number or a boolean",
                                location(path, line_of(node.source())), key));
}

FileEntry make_entry(const toml::key& key, const toml::node& node, const std::string& path) {
  FileEntry entry;
  entry.key = std::string(key.str());
  entry.line = line_of(key.source());
  if (node.is_table()) {
    throw ConfigError(
        fmt::format("{}: key '{}': a table is not allowed here (only [[job]] tables are)",
                    location(path, entry.line), entry.key));
  }
  if (const auto* array = node.as_array()) {
    entry.array = true;
    for (const auto& element : *array) {
      if (element.is_array() || element.is_table()) {
        throw ConfigError(fmt::format("{}: key '{}': an array of plain values is expected",
                                      location(path, entry.line), entry.key));
      }
      entry.values.push_back(scalar_text(element, path, entry.key));
    }
  } else {
    entry.values.push_back(scalar_text(node, path, entry.key));
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
          location(path, job.line)));
    }
    job.name = name->get();
  }
  if (job.name.empty()) {
    throw ConfigError(
        fmt::format("{}: [[job]] without a name: add name = \"...\"", location(path, job.line)));
  }
  return job;
}

std::string normalize_key(std::string key) {
  std::replace(key.begin(), key.end(), '_', '-');
  return key;
}

std::string long_name(const CLI::Option& option) {
  const auto& names = option.get_lnames();
  return names.empty() ? std::string() : names.front();
}

bool is_flag(const CLI::Option& option) { return option.get_items_expected_max() == 0; }

bool takes_several(const CLI::Option& option) {
  const auto policy = option.get_multi_option_policy();
  return option.get_items_expected_max() > 1 || policy == CLI::MultiOptionPolicy::TakeAll ||
         policy == CLI::MultiOptionPolicy::Join;
}

bool env_set(const CLI::Option& option) {
  const auto name = option.get_envname();
  if (name.empty()) return false;
  const char* value = std::getenv(name.c_str());
  return value != nullptr && *value != '\0';
}

// A CLI11 app with every option declared, storing into its own config.
struct OptionSet {
  explicit OptionSet(bool with_cli, bool with_env = true) {
    app.set_help_flag();
    declare_options(app, config, texts, with_cli ? &cli : nullptr);
    if (!with_env) {
      for (auto* option : app.get_options({})) option->envname("");
    }
  }

  // Parses `--key=value` arguments (CLI11 wants them in reverse order).
  void parse(std::vector<std::string> args) {
    std::reverse(args.begin(), args.end());
    app.parse(std::move(args));
  }

  CLI::App app{"batch_cleanup"};
  CleanupConfig config;
  OptionTexts texts;
  CliSettings cli;
};

void append_args(std::vector<std::string>& args, const std::string& key,
                 const std::vector<std::string>& values) {
  for (const auto& value : values) {
    if (value.empty()) {
      // "--key=" would make CLI11 take the next argument as the value.
      args.push_back("--" + key);
      args.push_back(value);
    } else {
      args.push_back("--" + key + "=" + value);
    }
  }
}

std::string join(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& value : values) {
    if (!out.empty()) out += ", ";
    out += value;
  }
  return out;
}

// The exemption lists: combined from every layer rather than overridden (see resolve_config).
bool is_exemption_list(const std::string& key) {
  return key == "exclude-email" || key == "exclude-domain" || key == "exclude-email-file" ||
         key == "exclude-domain-file";
}

// An environment variable's comma-separated list, as CLI11 splits it (delimiter ',').
std::vector<std::string> split_list(const char* text) {
  std::vector<std::string> out;
  std::string value;
  for (const char* c = text; c != nullptr && *c != '\0'; ++c) {
    if (*c == ',') {
      out.push_back(value);
      value.clear();
    } else {
      value += *c;
    }
  }
  out.push_back(value);
  return out;
}

// An entry of the file checked against the options.
struct CheckedEntry {
  const FileEntry* entry = nullptr;
  std::string option;  // the long option name
};

// The long names of declare_options(): all of them, those a [[job]] table accepts, and those
// that take several values.
struct KnownOptions {
  KnownOptions() {
    OptionSet all(true);
    for (const auto* option : all.app.get_options()) {
      const auto name = long_name(*option);
      if (name.empty()) continue;
      all_options.insert(name);
      if (takes_several(*option)) several.insert(name);
    }
    OptionSet jobs(false);
    for (const auto* option : jobs.app.get_options()) job_options.insert(long_name(*option));
  }

  std::set<std::string> all_options;
  std::set<std::string> job_options;
  std::set<std::string> several;
};

const KnownOptions& known_options() {
  static const KnownOptions known;
  return known;
}

class Resolver {
 public:
  Resolver(const std::vector<GivenOption>& given, std::optional<ConfigFile> file)
      : given_(given),
        file_(std::move(file)),
        all_options_(known_options().all_options),
        job_options_(known_options().job_options),
        several_(known_options().several) {}

  ResolvedConfig resolve() {
    ResolvedConfig out;
    std::map<std::string, CheckedEntry> top;
    if (file_) {
      out.config_path = file_->path;
      top = check_table(file_->top, false);
    }
    std::vector<std::pair<std::string, std::map<std::string, CheckedEntry>>> jobs;
    if (file_ && !file_->jobs.empty()) {
      out.named_jobs = true;
      std::map<std::string, int> names;
      for (const auto& job : file_->jobs) {
        const auto [previous, inserted] = names.emplace(job.name, job.line);
        if (!inserted) {
          throw ConfigError(fmt::format("{}: job name '{}' is already used on line {}",
                                        location(file_->path, job.line), job.name,
                                        previous->second));
        }
        jobs.emplace_back(job.name, check_table(job.entries, true));
      }
    } else {
      jobs.emplace_back("default", std::map<std::string, CheckedEntry>{});
    }
    for (const auto& [name, table] : jobs) {
      out.jobs.push_back(resolve_job(name, table, top, out.jobs.empty() ? &out : nullptr));
    }
    out.warnings = std::move(warnings_);
    return out;
  }

 private:
  std::string where(int line) const { return location(file_->path, line); }

  std::map<std::string, CheckedEntry> check_table(const std::vector<FileEntry>& entries,
                                                  bool in_job) {
    std::map<std::string, CheckedEntry> out;
    for (const auto& entry : entries) {
      const std::string option = normalize_key(entry.key);
      if (option == "config") {
        throw ConfigError(
            fmt::format("{}: key '{}': a configuration file cannot name another one (use --config)",
                        where(entry.line), entry.key));
      }
      if (!all_options_.contains(option)) {
        throw ConfigError(fmt::format("{}: unknown key '{}'", where(entry.line), entry.key));
      }
      if (in_job && !job_options_.contains(option)) {
        throw ConfigError(fmt::format(
            "{}: key '{}' applies to the whole process: set it at the top level, not in a "
            "[[job]] table",
            where(entry.line), entry.key));
      }
      if (entry.array && !several_.contains(option)) {
        throw ConfigError(fmt::format("{}: key '{}' takes one value, not an array",
                                      where(entry.line), entry.key));
      }
      const auto [previous, inserted] = out.emplace(option, CheckedEntry{&entry, option});
      if (!inserted) {
        throw ConfigError(fmt::format("{}: key '{}' is already set on line {}", where(entry.line),
                                      entry.key, previous->second.entry->line));
      }
      // The value alone, through the flag's own conversion and checks.
      OptionSet alone(true, false);
      std::vector<std::string> args;
      append_args(args, option, entry.values);
      try {
        alone.parse(std::move(args));
      } catch (const CLI::ParseError& e) {
        throw ConfigError(
            fmt::format("{}: key '{}': {}", where(entry.line), entry.key, std::string(e.what())));
      }
    }
    return out;
  }

  const GivenOption* given(const std::string& key) const {
    for (const auto& option : given_) {
      if (option.key == key) return &option;
    }
    return nullptr;
  }

  ResolvedJob resolve_job(const std::string& name, const std::map<std::string, CheckedEntry>& job,
                          const std::map<std::string, CheckedEntry>& top, ResolvedConfig* process) {
    OptionSet set(true);
    std::vector<std::string> args;
    std::map<std::string, const CheckedEntry*> from_file;
    for (auto* option : set.app.get_options({})) {
      const auto key = long_name(*option);
      if (key.empty()) continue;
      const auto in_table = job.find(key);
      if (is_exemption_list(key)) {
        // Combined from every layer: an exemption given on the command line adds to the file's.
        if (const auto* g = given(key)) {
          append_args(args, key, g->values);
        } else if (env_set(*option)) {
          append_args(args, key, split_list(std::getenv(option->get_envname().c_str())));
        }
        for (const auto* layer : {&job, &top}) {
          if (const auto found = layer->find(key); found != layer->end()) {
            append_args(args, key, found->second.entry->values);
            from_file.try_emplace(key, &found->second);
          }
        }
        continue;
      }
      const auto* g = given(key);
      if (g != nullptr || env_set(*option)) {
        if (in_table != job.end()) {
          warnings_.push_back(
              fmt::format("job '{}': {} overrides the job's own {} = {} ({})", name,
                          g == nullptr || !g->env.empty()
                              ? "environment variable " + (g ? g->env : option->get_envname())
                              : "flag --" + key,
                          key, redact_setting(key, join(in_table->second.entry->values)),
                          where(in_table->second.entry->line)));
        }
        if (g != nullptr) append_args(args, key, g->values);
        continue;  // without a flag, CLI11 reads the environment: it beats the file
      }
      const CheckedEntry* entry = nullptr;
      if (in_table != job.end()) {
        entry = &in_table->second;
      } else if (const auto at_top = top.find(key); at_top != top.end()) {
        entry = &at_top->second;
      }
      if (entry == nullptr) continue;
      append_args(args, key, entry->entry->values);
      from_file[key] = entry;
    }
    try {
      set.parse(std::move(args));
    } catch (const CLI::ParseError& e) {
      throw in_job(name, e.what());
    }
    try {
      finish_options(set.texts, set.config);
    } catch (const ConfigError& e) {
      throw attribute(name, e, from_file);
    }
    set.config.job_name = name;

    ResolvedJob resolved;
    resolved.name = name;
    resolved.config = set.config;
    for (const auto* option : set.app.get_options()) {
      const auto key = long_name(*option);
      if (key.empty()) continue;
      Setting setting;
      setting.key = key;
      if (option->count() > 0) {
        setting.value = join(option->results());
      } else if (is_flag(*option)) {
        setting.value = "false";
      } else {
        setting.value = option->get_default_str();
      }
      setting.value = redact_setting(key, setting.value);
      if (const auto* g = given(key)) {
        setting.source = g->env.empty() ? ValueSource{ValueSource::Kind::kFlag, ""}
                                        : ValueSource{ValueSource::Kind::kEnv, g->env};
      } else if (const auto f = from_file.find(key); f != from_file.end()) {
        setting.source = {ValueSource::Kind::kFile, where(f->second->entry->line)};
      } else if (option->count() > 0) {
        setting.source = {ValueSource::Kind::kEnv, option->get_envname()};
      }
      if (job_options_.contains(key)) {
        resolved.settings.push_back(std::move(setting));
      } else if (process != nullptr) {
        process->process_settings.push_back(std::move(setting));
      }
    }
    if (process != nullptr) process->cli = set.cli;
    return resolved;
  }

  ConfigError in_job(const std::string& name, const std::string& message) const {
    if (!file_) return ConfigError(message);
    if (file_->jobs.empty()) return ConfigError(fmt::format("{}: {}", file_->path, message));
    return ConfigError(fmt::format("{}: job '{}': {}", file_->path, name, message));
  }

  // Names the file entry that alone causes `error`, when there is one.
  ConfigError attribute(const std::string& name, const ConfigError& error,
                        const std::map<std::string, const CheckedEntry*>& from_file) const {
    const std::string message = error.what();
    for (const auto& [key, checked] : from_file) {
      OptionSet alone(true, false);
      std::vector<std::string> args;
      append_args(args, key, checked->entry->values);
      try {
        alone.parse(std::move(args));
        finish_options(alone.texts, alone.config);
      } catch (const ConfigError& e) {
        if (message == e.what()) {
          return ConfigError(fmt::format("{}: key '{}': {}", where(checked->entry->line),
                                         checked->entry->key, message));
        }
      } catch (const CLI::ParseError&) {
      }
    }
    return in_job(name, message);
  }

  const std::vector<GivenOption>& given_;
  std::optional<ConfigFile> file_;
  const std::set<std::string>& all_options_;
  const std::set<std::string>& job_options_;
  const std::set<std::string>& several_;
  std::vector<std::string> warnings_;
};

}  // namespace

ConfigFile parse_config_file(std::string_view text, const std::string& path) {
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    throw ConfigError(
        fmt::format("{}: {}", location(path, line_of(e.source())), std::string(e.description())));
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
                                    location(path, line_of(key.source()))));
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

std::vector<GivenOption> given_options(const CLI::App& app) {
  std::vector<GivenOption> out;
  for (const auto* option : app.get_options()) {
    const auto key = long_name(*option);
    if (key.empty() || option->count() == 0) continue;
    GivenOption given{key, option->results(), ""};
    // CLI11 reads the variable only when no flag set the option.
    const auto env = option->get_envname();
    const char* value = env.empty() ? nullptr : std::getenv(env.c_str());
    if (value != nullptr && given.values == std::vector<std::string>{value}) given.env = env;
    out.push_back(std::move(given));
  }
  return out;
}

FileKeyRule file_key_rule(const CLI::Option& option) {
  const auto& known = known_options();
  const auto name = long_name(option);
  FileKeyRule rule;
  // check_table() refuses `config`: a file cannot name another one.
  rule.key = name != "config" && known.all_options.contains(name);
  rule.process_wide = rule.key && !known.job_options.contains(name);
  rule.array = rule.key && known.several.contains(name);
  return rule;
}

std::string ValueSource::text() const {
  switch (kind) {
    case Kind::kFlag:
      return "flag";
    case Kind::kEnv:
      return "env " + detail;
    case Kind::kFile:
      return "file " + detail;
    case Kind::kDefault:
      break;
  }
  return "default";
}

ResolvedConfig resolve_config(const std::vector<GivenOption>& given,
                              const std::string& config_path) {
  std::optional<ConfigFile> file;
  if (!config_path.empty()) file = read_config_file(config_path);
  return Resolver(given, std::move(file)).resolve();
}

std::string redact_setting(const std::string& key, const std::string& value) {
  if (value.empty()) return value;
  if (key.find("password") != std::string::npos) return "***";
  if (key == "database-url") return redact_database_url(value);
  return value;
}

}  // namespace batch_cleanup::config
