#include "cli/docs_model.h"

#include "config/option_set.h"

namespace batch_cleanup::cli {
namespace {

// CLI11 keeps the set of a CLI::IsMember check only inside its validator, whose description
// --help prints after the type: "TEXT:{text,json}". That description is the one place the set
// can be read from without declaring it a second time.
std::vector<std::string> choices_of(const std::string& value_type) {
  const auto open = value_type.find(":{");
  if (open == std::string::npos || value_type.back() != '}') return {};
  const auto set = value_type.substr(open + 2, value_type.size() - open - 3);
  if (set.find_first_of("{}:") != std::string::npos) return {};
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const auto comma = set.find(',', start);
    out.push_back(set.substr(start, comma == std::string::npos ? comma : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::vector<std::string> names_of(const CLI::Option& option) {
  std::vector<std::string> names;
  for (const auto& s : option.get_snames()) names.push_back("-" + s);
  for (const auto& l : option.get_lnames()) names.push_back("--" + l);
  return names;
}

OptionDoc describe_option(const CLI::Option& option) {
  OptionDoc doc;
  doc.names = names_of(option);
  doc.long_name = option.get_lnames().empty() ? "" : option.get_lnames().front();
  doc.takes_value = option.get_items_expected_max() > 0;
  doc.value_type = doc.takes_value ? option.get_type_name() : "";
  doc.description = option.get_description();
  doc.env = option.get_envname();
  doc.default_value = option.get_default_str();
  doc.choices = choices_of(doc.value_type);
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

std::vector<OptionDoc> describe_options(const CLI::App& app) {
  std::vector<OptionDoc> out;
  for (const auto* option : app.get_options()) {
    if (option->get_group().empty() || option->get_positional()) continue;
    out.push_back(describe_option(*option));
  }
  return out;
}

}  // namespace

ProgramDoc describe_program(const CLI::App& app) {
  ProgramDoc doc;
  doc.name = app.get_name();
  doc.description = app.get_description();
  doc.options = describe_options(app);
  for (const auto* command :
       app.get_subcommands([](const CLI::App* sub) { return !sub->get_group().empty(); })) {
    doc.commands.push_back(CommandDoc{command->get_name(), command->get_description(),
                                      describe_options(*command), command->get_fallthrough()});
  }
  return doc;
}

}  // namespace batch_cleanup::cli
