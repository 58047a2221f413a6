// `batch_cleanup generate-docs FORMAT --output FILE`: writes a man page (FORMAT man, from
// --template) or a completion script (bash, zsh) generated from the declared command line. A
// hidden subcommand: the build runs it (cmake/Documentation.cmake) so that the man pages and
// completions in the packages cannot drift from the options.
#pragma once

#include <string>

#include "config/cli_app_fwd.h"

namespace batch_cleanup::cli {

struct DocsOptions {
  std::string format;         // man | bash | zsh
  std::string output;         // the file to write
  std::string template_file;  // man: the page's roff template (see manual_page.h)
  std::string example_file;   // man: the file shown for @EXAMPLE@
  std::string date;           // man: @DATE@
};

// Declares the hidden subcommand on `app`.
CLI::App* declare_docs_command(CLI::App& app, DocsOptions& options);

// Writes the file for `app`, which must hold every option and subcommand. Returns the exit
// code (2 when a file cannot be read or written).
int run_docs(const CLI::App& app, const DocsOptions& options);

}  // namespace batch_cleanup::cli
