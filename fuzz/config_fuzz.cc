// Fuzzes the whole option table: the input is split into arguments at newlines and parsed the
// way the command line is (CLI11, then conversion and validation).
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "batch_cleanup/errors.h"
#include "config/options.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> args{"batch_cleanup"};
  std::size_t start = 0;
  while (start <= text.size() && args.size() < 64) {
    const auto end = text.find('\n', start);
    args.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  CLI::App app{"fuzz"};
  batch_cleanup::CleanupConfig config;
  batch_cleanup::config::OptionTexts texts;
  batch_cleanup::config::CliSettings cli;
  batch_cleanup::config::declare_options(app, config, texts, &cli);
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
    batch_cleanup::config::finish_options(texts, config);
  } catch (const CLI::Error&) {
  } catch (const batch_cleanup::ConfigError&) {
  }
  return 0;
}
