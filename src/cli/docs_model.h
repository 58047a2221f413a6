// The command line as documentation sees it, for the man pages and the shell completions
// (docs_command.h): the main command's options from their declarations (config/option_spec.h),
// the subcommands and their own options from the configured CLI::App. Nothing here is written
// by hand: a new option appears in batch_cleanup(1), batch_cleanup.toml(5) and the completions
// when it is declared.
#pragma once

#include <string>
#include <vector>

#include "config/cli_app_fwd.h"

namespace batch_cleanup::cli {

struct OptionDoc {
  std::vector<std::string> names;  // as typed: "-h", "--help"
  std::string long_name;           // without dashes ("batch-size"); empty when it has none
  bool takes_value = false;        // false: a flag
  std::string value_type;          // as --help shows it ("INT:INT in [1 - 1000000]")
  std::string description;
  std::string env;            // its environment variable; empty: none
  std::string default_value;  // empty: none shown by --help
  // The accepted values of an option that takes one of a set, as declared; empty otherwise.
  std::vector<std::string> choices;
  bool repeatable = false;            // may be given several times
  char delimiter = '\0';              // values may also be separated by this; '\0': no
  std::vector<std::string> excludes;  // names of the options it cannot be given with
  // The configuration file (batch_cleanup.toml(5)).
  bool file_key = false;      // its long name is a key of the file
  bool process_wide = false;  // a top-level key only
  bool file_array = false;    // an array in the file
};

struct CommandDoc {
  std::string name;
  std::string description;
  std::vector<OptionDoc> options;   // its own (help included)
  bool takes_main_options = false;  // the main command's options may follow it
};

struct ProgramDoc {
  std::string name;
  std::string description;
  std::vector<OptionDoc> options;    // of the main command, in declaration order
  std::vector<CommandDoc> commands;  // the visible subcommands, in declaration order
};

// Reads `app` (declared, not necessarily parsed). Hidden subcommands and options (empty group)
// are left out.
ProgramDoc describe_program(const CLI::App& app);

}  // namespace batch_cleanup::cli
