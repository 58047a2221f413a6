#include "cli/docs_model.h"

#include <CLI/CLI.hpp>

#include "config/options.h"

namespace batch_cleanup::cli {
namespace {

std::vector<std::string> names_of(const CLI::Option& option) {
  std::vector<std::string> names;
  for (const auto& s : option.get_snames()) names.push_back("-" + s);
  for (const auto& l : option.get_lnames()) names.push_back("--" + l);
  return names;
}

// An option of a subcommand, as CLI11 holds it (the main command's come from their specs).
OptionDoc describe_option(const CLI::Option& option) {
  OptionDoc doc;
  doc.names = names_of(option);
  doc.long_name = option.get_lnames().empty() ? "" : option.get_lnames().front();
  doc.takes_value = option.get_items_expected_max() > 0;
  doc.value_type = doc.takes_value ? option.get_type_name() : "";
  doc.description = option.get_description();
  doc.env = option.get_envname();
  doc.default_value = option.get_default_str();
  const auto policy = option.get_multi_option_policy();
  doc.repeatable = doc.takes_value && (option.get_items_expected_max() > 1 ||
                                       policy == CLI::MultiOptionPolicy::TakeAll ||
                                       policy == CLI::MultiOptionPolicy::Join);
  doc.delimiter = doc.repeatable ? option.get_delimiter() : '\0';
  for (const auto* other : option.get_excludes()) {
    const auto others = names_of(*other);
    if (!others.empty()) doc.excludes.push_back(others.back());
  }
  return doc;
}

// An option of the main command, from its declaration (config/option_spec.h).
OptionDoc describe_spec(const config::OptionSpec& spec) {
  OptionDoc doc;
  if (spec.short_name != '\0') doc.names.push_back(std::string("-") + spec.short_name);
  doc.names.push_back("--" + std::string(spec.name));
  doc.long_name = spec.name;
  doc.takes_value = spec.kind != config::ValueKind::kFlag;
  doc.value_type = doc.takes_value ? config::value_type(spec) : "";
  doc.description = spec.help;
  doc.env = spec.env;
  doc.default_value = spec.default_text;
  doc.choices = spec.choices;
  doc.repeatable =
      spec.kind == config::ValueKind::kList || spec.kind == config::ValueKind::kRepeated;
  doc.delimiter = doc.repeatable ? ',' : '\0';
  if (!spec.excludes.empty()) doc.excludes.push_back("--" + std::string(spec.excludes));
  doc.file_key = spec.file_key;
  doc.process_wide = spec.file_key && spec.scope == config::Scope::kProcess;
  doc.file_array = spec.file_key && doc.repeatable;
  return doc;
}

// `main`: the main command, whose declared options (those of option_table()) are described
// from their specs; its others (--help, --version) and every subcommand's, from CLI11.
std::vector<OptionDoc> describe_options(const CLI::App& app, bool main) {
  std::vector<OptionDoc> out;
  for (const auto* option : app.get_options()) {
    if (option->get_group().empty() || option->get_positional()) continue;
    const auto* spec = main && !option->get_lnames().empty()
                           ? config::find_option(option->get_lnames().front())
                           : nullptr;
    out.push_back(spec != nullptr ? describe_spec(*spec) : describe_option(*option));
  }
  return out;
}

}  // namespace

ProgramDoc describe_program(const CLI::App& app) {
  ProgramDoc doc;
  doc.name = app.get_name();
  doc.description = app.get_description();
  doc.options = describe_options(app, true);
  for (const auto* command :
       app.get_subcommands([](const CLI::App* sub) { return !sub->get_group().empty(); })) {
    doc.commands.push_back(CommandDoc{command->get_name(), command->get_description(),
                                      describe_options(*command, false),
                                      command->get_fallthrough()});
  }
  return doc;
}

}  // namespace batch_cleanup::cli
