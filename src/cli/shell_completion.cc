#include "cli/shell_completion.h"

#include <map>
#include <sstream>

namespace batch_cleanup::cli {
namespace {

std::string words(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : " ") + item;
  return out;
}

std::vector<std::string> all_names(const std::vector<OptionDoc>& options) {
  std::vector<std::string> out;
  for (const auto& option : options)
    out.insert(out.end(), option.names.begin(), option.names.end());
  return out;
}

// The main command's options that may follow a subcommand (its --help is the subcommand's).
std::vector<std::string> main_names_after_command(const ProgramDoc& program) {
  std::vector<std::string> names;
  for (const auto& name : all_names(program.options)) {
    if (name != "-h" && name != "--help") names.push_back(name);
  }
  return names;
}

// Every option that takes a value, by name, with its choices (empty: any value).
std::map<std::string, std::vector<std::string>> valued_options(const ProgramDoc& program) {
  std::map<std::string, std::vector<std::string>> out;
  auto add = [&out](const std::vector<OptionDoc>& options) {
    for (const auto& option : options) {
      if (!option.takes_value) continue;
      for (const auto& name : option.names) out[name] = option.choices;
    }
  };
  add(program.options);
  for (const auto& command : program.commands) add(command.options);
  return out;
}

// Text inside single quotes in a shell script.
std::string single_quoted(const std::string& text) {
  std::string out;
  for (const char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out;
}

// An _arguments description: inside [...] of a single-quoted spec.
std::string zsh_description(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '[' || c == ']' || c == ':' || c == '\\') out += '\\';
    out += c;
  }
  return single_quoted(out);
}

// One _arguments spec per name of `option`.
void zsh_specs(std::ostringstream& out, const OptionDoc& option) {
  std::string exclusive;
  for (const auto& name : option.names) exclusive += (exclusive.empty() ? "" : " ") + name;
  for (const auto& other : option.excludes) exclusive += " " + other;
  for (const auto& name : option.names) {
    out << "    '";
    if (option.repeatable) {
      out << "*";
    } else {
      out << "(" << exclusive << ")";
    }
    out << name << (option.takes_value && name.size() > 2 ? "=" : "") << "["
        << zsh_description(option.description) << "]";
    if (option.takes_value) {
      out << ":" << (option.long_name.empty() ? "value" : option.long_name) << ":";
      out << (option.choices.empty() ? "_default" : "(" + words(option.choices) + ")");
    }
    out << "'\n";
  }
}

}  // namespace

std::string bash_completion(const ProgramDoc& program) {
  const std::string function = "_" + program.name;
  std::vector<std::string> command_list;
  command_list.reserve(program.commands.size());
  for (const auto& command : program.commands) command_list.push_back(command.name);
  const auto valued = valued_options(program);
  std::vector<std::string> valued_list;
  valued_list.reserve(valued.size());
  for (const auto& [name, choices] : valued) valued_list.push_back(name);

  std::ostringstream out;
  out << "# bash completion for " << program.name << "\n"
      << "# Generated from its option declarations (" << program.name
      << " generate-docs bash); do not edit.\n\n"
      << function << "() {\n"
      << "  local cur=${COMP_WORDS[COMP_CWORD]} prev=\n"
      << "  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}\n"
      << "  local commands='" << words(command_list) << "'\n"
      << "  local valued=' " << words(valued_list) << " '\n"
      << "  # --option=value: bash splits the word at '='.\n"
      << "  local option=\n"
      << "  if [[ $cur == = ]]; then\n"
      << "    option=$prev cur=\n"
      << "  elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then\n"
      << "    option=${COMP_WORDS[COMP_CWORD - 2]}\n"
      << "  elif [[ $valued == *\" $prev \"* ]]; then\n"
      << "    option=$prev\n"
      << "  fi\n"
      << "  if [[ -n $option && $valued == *\" $option \"* ]]; then\n"
      << "    case $option in\n";
  for (const auto& [name, choices] : valued) {
    if (choices.empty()) continue;
    out << "      " << name << ") COMPREPLY=($(compgen -W '" << words(choices)
        << "' -- \"$cur\")) ;;\n";
  }
  out << "      *) COMPREPLY=() ;;  # any value: file names (complete -o default)\n"
      << "    esac\n"
      << "    return 0\n"
      << "  fi\n"
      << "  # The subcommand: the first word that is one, not counting option values.\n"
      << "  local command= i word\n"
      << "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      << "    word=${COMP_WORDS[i]}\n"
      << "    if [[ $valued == *\" $word \"* && ${COMP_WORDS[i + 1]} != = ]]; then\n"
      << "      ((i++))\n"
      << "    elif [[ $word == = ]]; then\n"
      << "      ((i++))\n"
      << "    elif [[ -z $command && \" $commands \" == *\" $word \"* ]]; then\n"
      << "      command=$word\n"
      << "    fi\n"
      << "  done\n"
      << "  local main_flags='" << words(main_names_after_command(program)) << "'\n"
      << "  local flags\n"
      << "  case $command in\n";
  for (const auto& command : program.commands) {
    out << "    " << command.name << ") flags=\"" << words(all_names(command.options))
        << (command.takes_main_options ? " $main_flags" : "") << "\" ;;\n";
  }
  out << "    *) flags=\"-h --help $main_flags\" ;;\n"
      << "  esac\n"
      << "  if [[ $cur == -* ]]; then\n"
      << "    COMPREPLY=($(compgen -W \"$flags\" -- \"$cur\"))\n"
      << "  elif [[ -z $command ]]; then\n"
      << "    COMPREPLY=($(compgen -W \"$commands\" -- \"$cur\"))\n"
      << "  else\n"
      << "    COMPREPLY=()\n"
      << "  fi\n"
      << "  return 0\n"
      << "}\n"
      << "complete -o default -F " << function << " " << program.name << "\n";
  return out.str();
}

std::string zsh_completion(const ProgramDoc& program) {
  const std::string function = "_" + program.name;
  std::ostringstream out;
  out << "#compdef " << program.name << "\n"
      << "# zsh completion for " << program.name << "\n"
      << "# Generated from its option declarations (" << program.name
      << " generate-docs zsh); do not edit.\n\n"
      << function << "() {\n"
      << "  local -a main_options commands\n"
      << "  main_options=(\n";
  for (const auto& option : program.options) zsh_specs(out, option);
  out << "  )\n"
      << "  commands=(\n";
  for (const auto& command : program.commands) {
    out << "    '" << command.name << ":" << single_quoted(command.description) << "'\n";
  }
  out << "  )\n"
      << "  local curcontext=$curcontext state line\n"
      << "  typeset -A opt_args\n"
      << "  _arguments -C -s $main_options ': :->command' '*:: :->argument' && return 0\n"
      << "  case $state in\n"
      << "    command)\n"
      << "      _describe -t commands '" << program.name << " command' commands\n"
      << "      ;;\n"
      << "    argument)\n"
      << "      curcontext=${curcontext%:*:*}:" << program.name << "-$line[1]:\n"
      << "      case $line[1] in\n";
  for (const auto& command : program.commands) {
    out << "        " << command.name << ")\n"
        << "          _arguments -s" << (command.takes_main_options ? " $main_options" : "")
        << " \\\n";
    std::ostringstream specs;
    for (const auto& option : command.options) {
      if (option.long_name == "help") continue;
      zsh_specs(specs, option);
    }
    std::istringstream lines(specs.str());
    std::string line;
    while (std::getline(lines, line)) out << "      " << line << " \\\n";
    out << "            && return 0\n"
        << "          ;;\n";
  }
  out << "      esac\n"
      << "      ;;\n"
      << "  esac\n"
      << "  return 1\n"
      << "}\n\n"
      << function << " \"$@\"\n";
  return out.str();
}

}  // namespace batch_cleanup::cli
