#include "cli/manual_page.h"

#include <sstream>

namespace batch_cleanup::cli {
namespace {

std::string bold(std::string_view text) { return "\\fB" + roff_text(text) + "\\fR"; }
std::string italic(std::string_view text) { return "\\fI" + roff_text(text) + "\\fR"; }

std::string sentence(std::string text) {
  if (!text.empty() && text.back() != '.' && text.back() != '?' && text.back() != '!') {
    text += '.';
  }
  return roff_text(text);
}

std::string joined(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += bold(item);
  }
  return out;
}

// The `.TP` heading line of an option: its names and its value.
std::string option_heading(const OptionDoc& option) {
  std::string line = joined(option.names, ", ");
  if (option.takes_value) line += " " + italic(option.value_type);
  if (option.repeatable) line += " ...";
  return line;
}

void write_option(std::ostringstream& out, const OptionDoc& option, bool with_file_key) {
  out << ".TP\n" << option_heading(option) << "\n" << sentence(option.description) << "\n";
  if (!option.choices.empty()) out << "Values: " << joined(option.choices, ", ") << ".\n";
  if (option.repeatable) {
    out << "May be given several times"
        << (option.delimiter == ',' ? "; values may also be separated by commas" : "") << ".\n";
  }
  if (!option.excludes.empty())
    out << "Not together with " << joined(option.excludes, ", ") << ".\n";
  if (!option.env.empty()) out << "Environment: " << bold(option.env) << ".\n";
  if (!option.default_value.empty()) out << "Default: " << bold(option.default_value) << ".\n";
  if (with_file_key && option.file_key) {
    out << "Configuration file key: " << bold(option.long_name)
        << (option.process_wide ? " (top level only)" : "") << ".\n";
  }
}

void write_options(std::ostringstream& out, const ProgramDoc& program) {
  for (const auto& option : program.options) write_option(out, option, true);
}

void write_commands(std::ostringstream& out, const ProgramDoc& program) {
  for (const auto& command : program.commands) {
    out << ".SS \"" << program.name << " " << command.name << "\"\n"
        << sentence(command.description) << "\n";
    if (command.takes_main_options) {
      out << "The options of the main command are accepted before and after " << bold(command.name)
          << ".\n";
    }
    for (const auto& option : command.options) {
      if (option.long_name == "help") continue;
      write_option(out, option, false);
    }
  }
}

void write_environment(std::ostringstream& out, const ProgramDoc& program) {
  for (const auto& option : program.options) {
    if (option.env.empty()) continue;
    out << ".TP\n"
        << bold(option.env) << "\n"
        << "Sets " << bold(option.names.back()) << " (the flag wins when both are given).\n";
  }
}

void write_file_keys(std::ostringstream& out, const ProgramDoc& program) {
  for (const auto& option : program.options) {
    if (!option.file_key) continue;
    std::string value = option.takes_value ? italic(option.value_type) : "true | false";
    if (option.file_array) value = "[ " + value + ", ... ]";
    out << ".TP\n"
        << bold(option.long_name) << " = " << value << "\n"
        << sentence(option.description) << "\n"
        << (option.process_wide ? "Top level only." : "Top level or a [[job]] table.") << "\n"
        << "Flag: " << bold(option.names.back()) << ".\n";
    if (!option.env.empty()) out << "Environment: " << bold(option.env) << ".\n";
    if (!option.default_value.empty()) out << "Default: " << bold(option.default_value) << ".\n";
  }
}

void write_example(std::ostringstream& out, const std::string& example) {
  out << ".PP\n.RS 4\n.EX\n";
  std::istringstream lines(example);
  std::string line;
  while (std::getline(lines, line)) out << roff_text(line) << "\n";
  out << ".EE\n.RE\n";
}

void replace_all(std::string& text, std::string_view from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

}  // namespace

std::string roff_text(std::string_view text) {
  std::string out;
  if (!text.empty() && (text.front() == '.' || text.front() == '\'')) out = "\\&";
  for (const char c : text) {
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out += c;
    }
  }
  return out;
}

std::string render_manual_page(const ProgramDoc& program, std::string_view page,
                               const ManualInputs& inputs) {
  std::ostringstream out;
  std::istringstream lines{std::string(page)};
  std::string line;
  while (std::getline(lines, line)) {
    if (line == "@OPTIONS@") {
      write_options(out, program);
    } else if (line == "@COMMANDS@") {
      write_commands(out, program);
    } else if (line == "@ENVIRONMENT@") {
      write_environment(out, program);
    } else if (line == "@FILE_KEYS@") {
      write_file_keys(out, program);
    } else if (line == "@EXAMPLE@") {
      write_example(out, inputs.example);
    } else {
      replace_all(line, "@VERSION@", inputs.version);
      replace_all(line, "@DATE@", inputs.date);
      out << line << "\n";
    }
  }
  return out.str();
}

}  // namespace batch_cleanup::cli
