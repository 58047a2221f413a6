#include "config/resolve_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>

#include "batch_cleanup/errors.h"
#include "config/database_url.h"
#include "config/options.h"
#include "log/mask.h"

namespace batch_cleanup::config {
namespace {

std::string normalize_key(std::string key) {
  std::replace(key.begin(), key.end(), '_', '-');
  return key;
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

class Resolver {
 public:
  Resolver(const std::vector<GivenOption>& given, std::optional<ConfigFile> file)
      : given_(given),
        file_(std::move(file)),
        all_options_(known_options().all_options),
        job_options_(known_options().job_options),
        several_(known_options().several),
        flags_(known_options().flags) {}

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
                                        file_location(file_->path, job.line), job.name,
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
  std::string where(int line) const { return file_location(file_->path, line); }

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
      // A boolean is written bare: "true" or "yes" as a string is a typo, not a boolean.
      if (entry.quoted && flags_.contains(option)) {
        throw ConfigError(fmt::format(
            "{}: key '{}': '{}' is a string; {} takes a boolean: write {} = true or false "
            "(without quotes)",
            where(entry.line), entry.key, entry.values.front(), entry.key, entry.key));
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
        auto results = option->results();
        // Shown as the tool reads it.
        if (key == "match") {
          results = {normalized_match(join(results))};
        } else if (key == "exclude-domain") {
          for (auto& value : results) value = normalized_exclude_domain(value);
        }
        setting.value = join(results);
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
  const std::set<std::string>& flags_;
  std::vector<std::string> warnings_;
};

}  // namespace

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
  if (key == "push-metrics") return redact_userinfo(value);
  if (key == "exclude-email") {
    // The addresses are personal data: masked as the logs mask them.
    std::string out;
    std::size_t start = 0;
    while (true) {
      const auto comma = value.find(", ", start);
      const auto item = value.substr(start, comma == std::string::npos ? comma : comma - start);
      out += (out.empty() ? "" : ", ") + logging::mask_email(item);
      if (comma == std::string::npos) break;
      start = comma + 2;
    }
    return out;
  }
  return value;
}

}  // namespace batch_cleanup::config
