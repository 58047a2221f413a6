#include "config/resolve_config.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <map>
#include <optional>

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

// A list's values split at ',' as its flag splits them ("--exclude-email=a@x.com,b@x.com").
std::vector<std::string> split_list(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const auto& value : values) {
    std::size_t start = 0;
    while (true) {
      const auto comma = value.find(',', start);
      out.push_back(value.substr(start, comma == std::string::npos ? comma : comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

// One layer's value of an option: raw texts and where they came from.
struct Layer {
  std::vector<std::string> values;
  ValueSource source;
  const FileEntry* entry = nullptr;  // a file's entry; null for a flag or a variable
};

using Table = std::map<std::string, const FileEntry*, std::less<>>;

class Resolver {
 public:
  Resolver(const std::vector<GivenOption>& given, std::optional<ConfigFile> file)
      : file_(std::move(file)) {
    for (const auto& option : given) {
      given_[option.key] = Layer{
          option.values, option.env.empty() ? ValueSource{ValueSource::Kind::kFlag, ""}
                                            : ValueSource{ValueSource::Kind::kEnv, option.env}};
    }
    // Without a flag, the environment: it beats the file.
    for (const auto& spec : option_table()) {
      if (given_.contains(spec.name)) continue;
      auto values = read_environment(spec);
      if (values.empty()) continue;
      given_.emplace(std::string(spec.name),
                     Layer{std::move(values), {ValueSource::Kind::kEnv, std::string(spec.env)}});
    }
  }

  ResolvedConfig resolve() {
    ResolvedConfig out;
    Table top;
    if (file_) {
      out.config_path = file_->path;
      top = check_table(file_->top, false);
    }
    std::vector<std::pair<std::string, Table>> jobs;
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
      jobs.emplace_back("default", Table{});
    }
    for (const auto& [name, table] : jobs) {
      out.jobs.push_back(resolve_job(name, table, top, out.jobs.empty() ? &out : nullptr));
    }
    out.warnings = std::move(warnings_);
    return out;
  }

 private:
  std::string where(int line) const { return file_location(file_->path, line); }

  Table check_table(const std::vector<FileEntry>& entries, bool in_job) const {
    Table out;
    for (const auto& entry : entries) {
      const std::string option = normalize_key(entry.key);
      const auto* spec = find_option(option);
      if (spec != nullptr && !spec->file_key) {
        throw ConfigError(
            fmt::format("{}: key '{}': a configuration file cannot name another one (use --config)",
                        where(entry.line), entry.key));
      }
      if (spec == nullptr) {
        throw ConfigError(fmt::format("{}: unknown key '{}'", where(entry.line), entry.key));
      }
      if (in_job && spec->scope == Scope::kProcess) {
        throw ConfigError(fmt::format(
            "{}: key '{}' applies to the whole process: set it at the top level, not in a "
            "[[job]] table",
            where(entry.line), entry.key));
      }
      if (entry.array && spec->kind != ValueKind::kList && spec->kind != ValueKind::kRepeated) {
        throw ConfigError(fmt::format("{}: key '{}' takes one value, not an array",
                                      where(entry.line), entry.key));
      }
      const auto [previous, inserted] = out.emplace(option, &entry);
      if (!inserted) {
        throw ConfigError(fmt::format("{}: key '{}' is already set on line {}", where(entry.line),
                                      entry.key, previous->second->line));
      }
      // A boolean is written bare: "true" or "yes" as a string is a typo, not a boolean.
      if (entry.quoted && spec->kind == ValueKind::kFlag) {
        throw ConfigError(fmt::format(
            "{}: key '{}': '{}' is a string; {} takes a boolean: write {} = true or false "
            "(without quotes)",
            where(entry.line), entry.key, entry.values.front(), entry.key, entry.key));
      }
      // The value alone, through the flag's own checks.
      for (const auto& value : entry.values) {
        if (const auto message = check_value(*spec, value); !message.empty()) {
          throw ConfigError(fmt::format("{}: key '{}': {}", where(entry.line), entry.key, message));
        }
      }
    }
    return out;
  }

  Layer file_layer(const FileEntry& entry, const OptionSpec& spec) const {
    return Layer{spec.kind == ValueKind::kList ? split_list(entry.values) : entry.values,
                 {ValueSource::Kind::kFile, where(entry.line)},
                 &entry};
  }

  // The layers that set `spec` for a job, the winning one first: a flag or variable, the
  // [[job]] table, the top level. Every layer of an exemption list counts; of another option,
  // only the first.
  std::vector<Layer> layers(const OptionSpec& spec, const std::string& name, const Table& job,
                            const Table& top) {
    std::vector<Layer> out;
    const auto given = given_.find(spec.name);
    const auto in_job = job.find(spec.name);
    if (given != given_.end()) {
      out.push_back(given->second);
      if (!combines_layers(spec) && in_job != job.end()) {
        const auto& source = given->second.source;
        warnings_.push_back(fmt::format(
            "job '{}': {} overrides the job's own {} = {} ({})", name,
            source.kind == ValueSource::Kind::kEnv ? "environment variable " + source.detail
                                                   : "flag --" + std::string(spec.name),
            spec.name, redact_setting(std::string(spec.name), join(in_job->second->values)),
            where(in_job->second->line)));
        return out;
      }
    }
    for (const auto* table : {&job, &top}) {
      if (!out.empty() && !combines_layers(spec)) break;
      if (const auto found = table->find(spec.name); found != table->end()) {
        out.push_back(file_layer(*found->second, spec));
      }
    }
    return out;
  }

  ResolvedJob resolve_job(const std::string& name, const Table& job, const Table& top,
                          ResolvedConfig* process) {
    Settings settings;
    std::vector<Layer> from_file;
    ResolvedJob resolved;
    for (const auto& spec : option_table()) {
      const std::string key(spec.name);
      const auto set = layers(spec, name, job, top);
      std::vector<std::string> shown;
      for (const auto& layer : set) {
        try {
          spec.convert(layer.values, settings);
        } catch (const ConfigError& e) {
          if (layer.entry == nullptr) throw in_job(name, e.what());
          throw ConfigError(
              fmt::format("{}: key '{}': {}", layer.source.detail, layer.entry->key, e.what()));
        }
        if (layer.entry != nullptr) from_file.push_back(layer);
        shown.insert(shown.end(), layer.values.begin(), layer.values.end());
      }
      Setting setting;
      setting.key = key;
      if (!set.empty()) {
        setting.source = set.front().source;
        // Shown as the tool reads it.
        if (key == "match") {
          shown = {normalized_match(join(shown))};
        } else if (key == "exclude-domain") {
          for (auto& value : shown) value = normalized_exclude_domain(value);
        }
        setting.value = join(shown);
      } else {
        setting.value = spec.kind == ValueKind::kFlag ? "false" : std::string(spec.default_text);
      }
      setting.value = redact_setting(key, setting.value);
      if (spec.scope == Scope::kJob) {
        resolved.settings.push_back(std::move(setting));
      } else if (process != nullptr) {
        process->process_settings.push_back(std::move(setting));
      }
    }
    settings.config.job_name = name;
    try {
      validate_config(settings.config);
    } catch (const ConfigError& e) {
      throw attribute(name, e, from_file);
    }
    resolved.name = name;
    resolved.config = std::move(settings.config);
    if (process != nullptr) process->cli = settings.cli;
    return resolved;
  }

  ConfigError in_job(const std::string& name, const std::string& message) const {
    if (!file_) return ConfigError(message);
    if (file_->jobs.empty()) return ConfigError(fmt::format("{}: {}", file_->path, message));
    return ConfigError(fmt::format("{}: job '{}': {}", file_->path, name, message));
  }

  // Names the file entry that alone causes `error`, when there is one: its value converted over
  // the defaults fails validate_config() the same way.
  ConfigError attribute(const std::string& name, const ConfigError& error,
                        const std::vector<Layer>& from_file) const {
    const std::string message = error.what();
    for (const auto& layer : from_file) {
      Settings alone;
      try {
        find_option(normalize_key(layer.entry->key))->convert(layer.values, alone);
        validate_config(alone.config);
      } catch (const ConfigError& e) {
        if (message == e.what()) {
          return ConfigError(
              fmt::format("{}: key '{}': {}", layer.source.detail, layer.entry->key, message));
        }
      }
    }
    return in_job(name, message);
  }

  std::map<std::string, Layer, std::less<>> given_;
  std::optional<ConfigFile> file_;
  std::vector<std::string> warnings_;
};

}  // namespace

std::vector<GivenOption> given_options(const CLI::App& app) {
  std::vector<GivenOption> out;
  for (const auto& spec : option_table()) {
    const std::string key(spec.name);
    const auto* option = app.get_option_no_throw("--" + key);
    if (option != nullptr && option->count() > 0) {
      out.push_back({key, option->results(), ""});
    } else if (auto values = read_environment(spec); !values.empty()) {
      out.push_back({key, std::move(values), std::string(spec.env)});
    }
  }
  return out;
}

CliSettings given_cli_settings(const std::vector<GivenOption>& given) {
  Settings settings;
  for (const auto& option : given) {
    const auto* spec = find_option(option.key);
    if (spec != nullptr && spec->scope == Scope::kProcess) spec->convert(option.values, settings);
  }
  return settings.cli;
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
  // A list (join()), each item rewritten by `redact`.
  const auto each = [&value](auto redact) {
    std::string out;
    std::size_t start = 0;
    while (true) {
      const auto comma = value.find(", ", start);
      const auto item = value.substr(start, comma == std::string::npos ? comma : comma - start);
      out += (out.empty() ? "" : ", ") + redact(item);
      if (comma == std::string::npos) break;
      start = comma + 2;
    }
    return out;
  };
  // The addresses are personal data: masked as the logs mask them.
  if (key == "exclude-email")
    return each([](const std::string& item) { return logging::mask_email(item); });
  if (key == "replica-url")
    return each([](const std::string& item) { return redact_database_url(item); });
  return value;
}

}  // namespace batch_cleanup::config
