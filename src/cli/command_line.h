// The batch_cleanup command line: parses argv, wires config, services, HTTP server and signals,
// and returns the process's exit code (cli/exit_codes.h). The program's main() is only this.
#pragma once

namespace batch_cleanup::cli {

int run_command_line(int argc, char** argv);

}  // namespace batch_cleanup::cli
