#include "cli/command_line.h"

int main(int argc, char** argv) { return batch_cleanup::cli::run_command_line(argc, argv); }
