// Man pages in roff: batch_cleanup(1) and batch_cleanup.toml(5). A template written by hand
// (docs/man/*.in: description, exit status, signals, files, examples) holds placeholders that
// are filled from the option declarations, so every option, subcommand, environment variable
// and file key is documented exactly as the binary accepts it.
#pragma once

#include <string>
#include <string_view>

#include "cli/docs_model.h"

namespace batch_cleanup::cli {

struct ManualInputs {
  std::string version;  // @VERSION@
  std::string date;     // @DATE@ (the man page's footer)
  std::string example;  // @EXAMPLE@: text shown verbatim (the sample configuration file)
};

// Fills `page` (roff) line by line: a line that is exactly one of
//   @OPTIONS@      every option of the main command (.TP entries)
//   @COMMANDS@     every subcommand (.SS) with its own options
//   @ENVIRONMENT@  every environment variable and the option it sets
//   @FILE_KEYS@    every key of the configuration file, per job or top level only
//   @EXAMPLE@      `inputs.example`, verbatim in an example block
// is replaced by the generated roff; @VERSION@ and @DATE@ are replaced anywhere.
std::string render_manual_page(const ProgramDoc& program, std::string_view page,
                               const ManualInputs& inputs);

// `text` made safe for a roff text line: backslashes and hyphen-minus escaped, a leading '.' or
// '\'' neutralised.
std::string roff_text(std::string_view text);

}  // namespace batch_cleanup::cli
