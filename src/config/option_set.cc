#include "config/option_set.h"

#include <algorithm>
#include <cstdlib>

namespace batch_cleanup::config {

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

OptionSet::OptionSet(bool with_cli, bool with_env) {
  app.set_help_flag();
  declare_options(app, config, texts, with_cli ? &cli : nullptr);
  if (!with_env) {
    for (auto* option : app.get_options({})) option->envname("");
  }
}

void OptionSet::parse(std::vector<std::string> args) {
  // CLI11 wants them in reverse order.
  std::reverse(args.begin(), args.end());
  app.parse(std::move(args));
}

void append_args(std::vector<std::string>& args, const std::string& key,
                 const std::vector<std::string>& values) {
  for (const auto& value : values) {
    if (value.empty()) {
      args.push_back("--" + key);
      args.push_back(value);
    } else {
      args.push_back("--" + key + "=" + value);
    }
  }
}

namespace {

KnownOptions read_known_options() {
  KnownOptions known;
  OptionSet all(true);
  for (const auto* option : all.app.get_options()) {
    const auto name = long_name(*option);
    if (name.empty()) continue;
    known.all_options.insert(name);
    if (takes_several(*option)) known.several.insert(name);
    if (is_flag(*option)) known.flags.insert(name);
  }
  OptionSet jobs(false);
  for (const auto* option : jobs.app.get_options()) known.job_options.insert(long_name(*option));
  return known;
}

}  // namespace

const KnownOptions& known_options() {
  static const KnownOptions known = read_known_options();
  return known;
}

FileKeyRule file_key_rule(const CLI::Option& option) {
  const auto& known = known_options();
  const auto name = long_name(option);
  FileKeyRule rule;
  // A file cannot name another one: `config` is refused as a key (resolve_config).
  rule.key = name != "config" && known.all_options.contains(name);
  rule.process_wide = rule.key && !known.job_options.contains(name);
  rule.array = rule.key && known.several.contains(name);
  return rule;
}

}  // namespace batch_cleanup::config
