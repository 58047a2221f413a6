#include "cli/docs_model.h"

#include "config/option_set.h"
#include "config/options.h"

namespace batch_cleanup::cli {
namespace {

std::vector<std::string> names_of(const CLI::Option& option) {
  std::vector<std::string> names;
  for (const auto& s : option.get_snames()) names.push_back("-" + s);
  for (const auto& l : option.get_lnames()) names.push_back("--" + l);
  return names;
}

// `main`: an option of the main command, declared by declare_options(), whose choices come from
// its declaration (config::option_choices).
OptionDoc describe_option(const CLI::Option& option, bool main) {
  OptionDoc doc;
  doc.names = names_of(option);
  doc.long_name = option.get_lnames().empty() ? "" : option.get_lnames().front();
  doc.takes_value = option.get_items_expected_max() > 0;
  doc.value_type = doc.takes_value ? option.get_type_name() : "";
  doc.description = option.get_description();
  doc.env = option.get_envname();
  doc.default_value = option.get_default_str();
  if (main && doc.takes_value) doc.choices = config::option_choices(doc.long_name);
  const auto policy = option.get_multi_option_policy();
  doc.repeatable = doc.takes_value && (option.get_items_expected_max() > 1 ||
                                       policy == CLI::MultiOptionPolicy::TakeAll ||
                                       policy == CLI::MultiOptionPolicy::Join);
  doc.delimiter = doc.repeatable ? option.get_delimiter() : '\0';
  for (const auto* other : option.get_excludes()) {
    const auto others = names_of(*other);
    if (!others.empty()) doc.excludes.push_back(others.back());
  }
  const auto rule = config::file_key_rule(option);
  doc.file_key = rule.key;
  doc.process_wide = rule.process_wide;
  doc.file_array = rule.array;
  return doc;
}

std::vector<OptionDoc> describe_options(const CLI::App& app, bool main) {
  std::vector<OptionDoc> out;
  for (const auto* option : app.get_options()) {
    if (option->get_group().empty() || option->get_positional()) continue;
    out.push_back(describe_option(*option, main));
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
