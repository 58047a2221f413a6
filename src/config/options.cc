#include "config/options.h"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <memory>
#include <optional>

#include "batch_cleanup/errors.h"
#include "config/option_table_parts.h"

namespace batch_cleanup::config {
namespace {

// CLI11's check of a flag's value (range or choices), made from its spec.
std::optional<CLI::Validator> validator_of(const OptionSpec& spec) {
  if (spec.int_range) return CLI::Range(spec.int_range->lo, spec.int_range->hi);
  if (spec.real_range) return CLI::Range(spec.real_range->lo, spec.real_range->hi);
  if (!spec.choices.empty()) return CLI::IsMember(spec.choices);
  return std::nullopt;
}

const char* type_label(const OptionSpec& spec) {
  switch (spec.kind) {
    case ValueKind::kInteger:
      return "INT";
    case ValueKind::kReal:
      return "FLOAT";
    case ValueKind::kFlag:
      return "";
    case ValueKind::kText:
    case ValueKind::kList:
    case ValueKind::kRepeated:
      break;
  }
  return "TEXT";
}

// --help as CLI11 writes it, with each option's environment variable from its spec: CLI11 is
// not given the variables, so that the environment is read once, by read_environment().
class SpecFormatter : public CLI::Formatter {
 public:
  void add(const CLI::Option* option, std::string_view env) { env_.emplace(option, env); }

  std::string make_option_opts(const CLI::Option* option) const override {
    auto out = CLI::Formatter::make_option_opts(option);
    const auto found = env_.find(option);
    if (found == env_.end() || found->second.empty()) return out;
    const auto label = " (" + get_label("Env") + ":" + std::string(found->second) + ")";
    // Where CLI11 puts it: after the type and the default, before "Excludes:".
    const auto excludes = out.find(" " + get_label("Excludes") + ":");
    out.insert(excludes == std::string::npos ? out.size() : excludes, label);
    return out;
  }

 private:
  std::map<const CLI::Option*, std::string_view> env_;
};

std::string dashed(std::string_view name) { return "--" + std::string(name); }

}  // namespace

const std::vector<OptionSpec>& option_table() {
  static const std::vector<OptionSpec> table = [] {
    auto all = process_options();
    auto jobs = job_options();
    all.insert(all.end(), std::make_move_iterator(jobs.begin()),
               std::make_move_iterator(jobs.end()));
    return all;
  }();
  return table;
}

const OptionSpec* find_option(std::string_view name) {
  for (const auto& spec : option_table()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

bool combines_layers(const OptionSpec& spec) {
  return spec.name == "exclude-email" || spec.name == "exclude-domain" || spec.name == "where" ||
         spec.name == "exclude-email-file" || spec.name == "exclude-domain-file";
}

const std::vector<std::string>& option_choices(std::string_view long_name) {
  static const std::vector<std::string> any;
  const auto* spec = find_option(long_name);
  return spec == nullptr ? any : spec->choices;
}

std::string value_type(const OptionSpec& spec) {
  std::string out = type_label(spec);
  if (const auto check = validator_of(spec)) out += ":" + check->get_description();
  return out;
}

std::string check_value(const OptionSpec& spec, const std::string& value) {
  std::string message;
  if (spec.kind == ValueKind::kFlag) {
    bool ignored = false;
    if (!CLI::detail::lexical_cast(value, ignored)) {
      message = "Could not convert: " + value + " is not a boolean (true or false)";
    }
  } else if (auto check = validator_of(spec)) {
    std::string text = value;
    message = (*check)(text);
  }
  return message.empty() ? message : dashed(spec.name) + ": " + message;
}

void declare_options(CLI::App& app, CleanupConfig& /*config*/, OptionTexts& texts,
                     CliSettings* cli) {
  texts.app = &app;
  texts.cli = cli;
  auto formatter = std::make_shared<SpecFormatter>();
  app.formatter(formatter);
  for (const auto& spec : option_table()) {
    if (spec.scope == Scope::kProcess && cli == nullptr) continue;
    const std::string key(spec.name);
    std::string names = dashed(spec.name);
    if (spec.short_name != '\0') names = std::string("-") + spec.short_name + "," + names;
    const std::string help(spec.help);
    CLI::Option* option = nullptr;
    if (spec.kind == ValueKind::kFlag) {
      option = app.add_flag(names, texts.flags[key], help);
    } else if (spec.kind == ValueKind::kList) {
      option = app.add_option(names, texts.lists[key], help)->delimiter(',');
    } else if (spec.kind == ValueKind::kRepeated) {
      option = app.add_option(names, texts.lists[key], help)->type_name("TEXT");
    } else {
      option = app.add_option(names, texts.texts[key], help)->type_name(type_label(spec));
      if (auto check = validator_of(spec)) option->check(*check);
      if (!spec.default_text.empty()) option->default_str(std::string(spec.default_text));
    }
    if (!spec.excludes.empty()) {
      if (auto* other = app.get_option_no_throw(dashed(spec.excludes))) option->excludes(other);
    }
    formatter->add(option, spec.env);
  }
}

std::vector<std::string> read_environment(const OptionSpec& spec) {
  if (spec.env.empty()) return {};
  const char* text = std::getenv(std::string(spec.env).c_str());
  if (text == nullptr || *text == '\0') return {};
  std::vector<std::string> values;
  if (spec.kind == ValueKind::kList) {
    std::string value;
    for (const char* c = text; *c != '\0'; ++c) {
      if (*c == ',') {
        values.push_back(std::move(value));
        value.clear();
      } else {
        value += *c;
      }
    }
    values.push_back(std::move(value));
  } else {
    values.emplace_back(text);
  }
  for (const auto& value : values) {
    if (const auto message = check_value(spec, value); !message.empty()) {
      throw ConfigError("invalid environment setting " + std::string(spec.env) + ": " + message);
    }
  }
  return values;
}

void finish_options(const OptionTexts& texts, CleanupConfig& config) {
  Settings settings{config, texts.cli != nullptr ? *texts.cli : CliSettings{}};
  for (const auto& spec : option_table()) {
    if (spec.scope == Scope::kProcess && texts.cli == nullptr) continue;
    const auto* option = texts.app->get_option_no_throw(dashed(spec.name));
    const auto values =
        option != nullptr && option->count() > 0 ? option->results() : read_environment(spec);
    if (!values.empty()) spec.convert(values, settings);
  }
  validate_config(settings.config);
  config = settings.config;
  if (texts.cli != nullptr) *texts.cli = settings.cli;
}

}  // namespace batch_cleanup::config

namespace batch_cleanup {

CleanupConfig config_from_environment() {
  config::Settings settings;
  for (const auto& spec : config::option_table()) {
    if (spec.scope != config::Scope::kJob) continue;
    const auto values = config::read_environment(spec);
    if (!values.empty()) spec.convert(values, settings);
  }
  validate_config(settings.config);
  return settings.config;
}

}  // namespace batch_cleanup
