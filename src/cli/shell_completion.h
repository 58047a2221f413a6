// Shell completion scripts for bash and zsh, generated from the option declarations: the flags
// of the main command and of each subcommand, the subcommands, and the values of options that
// accept a fixed set. Other values complete as file names.
#pragma once

#include <string>

#include "cli/docs_model.h"

namespace batch_cleanup::cli {

// A script for /usr/share/bash-completion/completions/NAME: defines _NAME and registers it with
// `complete -o default -F _NAME NAME`. It needs bash only (not the bash-completion package).
std::string bash_completion(const ProgramDoc& program);

// A script for a directory of $fpath (/usr/share/zsh/vendor-completions/_NAME), `#compdef NAME`.
std::string zsh_completion(const ProgramDoc& program);

}  // namespace batch_cleanup::cli
