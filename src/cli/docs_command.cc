#include "cli/docs_command.h"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "batch_cleanup/version.h"
#include "cli/docs_model.h"
#include "cli/exit_codes.h"
#include "cli/manual_page.h"
#include "cli/shell_completion.h"

namespace batch_cleanup::cli {
namespace {

bool read_file(const std::string& path, std::string& text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  text = buffer.str();
  return true;
}

}  // namespace

CLI::App* declare_docs_command(CLI::App& app, DocsOptions& options) {
  auto* command = app.add_subcommand(
      "generate-docs", "Write a man page or a shell completion script (used by the build)");
  command->group("");  // hidden from --help and from the documentation it writes
  command->add_option("format", options.format, "man, bash or zsh")
      ->required()
      ->check(CLI::IsMember({"man", "bash", "zsh"}));
  command->add_option("--output", options.output, "The file to write")->required();
  command->add_option("--template", options.template_file, "man: the page's template");
  command->add_option("--example", options.example_file, "man: the file @EXAMPLE@ shows");
  command->add_option("--date", options.date, "man: the date @DATE@ shows");
  return command;
}

int run_docs(const CLI::App& app, const DocsOptions& options) {
  const auto program = describe_program(app);
  std::string text;
  if (options.format == "bash") {
    text = bash_completion(program);
  } else if (options.format == "zsh") {
    text = zsh_completion(program);
  } else {
    std::string page;
    ManualInputs inputs{kVersion, options.date, ""};
    for (const auto& [path, into] : {std::pair{&options.template_file, &page},
                                     std::pair{&options.example_file, &inputs.example}}) {
      if (!path->empty() && !read_file(*path, *into)) {
        std::cerr << "cannot read " << *path << ": " << std::strerror(errno) << "\n";
        return kExitUsage;
      }
    }
    text = render_manual_page(program, page, inputs);
  }
  std::ofstream out(options.output, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    std::cerr << "cannot write " << options.output << ": " << std::strerror(errno) << "\n";
    return kExitUsage;
  }
  return kExitSuccess;
}

}  // namespace batch_cleanup::cli
