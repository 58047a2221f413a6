// CLI11's App, declared: headers that only name it include this instead of <CLI/CLI.hpp>, whose
// inline definitions and validator objects cost seconds in every file that includes it. The
// files that build or read an app include CLI11 themselves.
#pragma once

namespace CLI {
class App;
}  // namespace CLI
