#include "cli/config_command.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/exit_codes.h"

namespace batch_cleanup::cli {
namespace {

void print_settings(const std::vector<config::Setting>& settings) {
  std::size_t key_width = 3;
  std::size_t value_width = 5;
  for (const auto& s : settings) {
    key_width = std::max(key_width, s.key.size());
    value_width = std::max(value_width, s.value.size() + 2);
  }
  std::cout << fmt::format("  {:<{}}  {:<{}}  {}\n", "key", key_width, "value", value_width,
                           "source");
  for (const auto& s : settings) {
    std::cout << fmt::format("  {:<{}}  {:<{}}  {}\n", s.key, key_width, "\"" + s.value + "\"",
                             value_width, s.source.text());
  }
}

nlohmann::ordered_json settings_json(const std::vector<config::Setting>& settings) {
  auto out = nlohmann::ordered_json::array();
  for (const auto& s : settings) {
    out.push_back({{"key", s.key}, {"value", s.value}, {"source", s.source.text()}});
  }
  return out;
}

}  // namespace

CLI::App* declare_config_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "config",
      "Print the effective configuration of the process and of every job, and where each value "
      "came from (flag, env, file:line or default); secrets redacted; does not connect");
  command->fallthrough();
  return command;
}

int run_config(const config::ResolvedConfig& resolved, const std::string& output) {
  if (output == "json") {
    nlohmann::ordered_json out;
    out["config_file"] = resolved.config_path.empty()
                             ? nlohmann::ordered_json(nullptr)
                             : nlohmann::ordered_json(resolved.config_path);
    out["process"] = settings_json(resolved.process_settings);
    out["jobs"] = nlohmann::ordered_json::array();
    for (const auto& job : resolved.jobs) {
      out["jobs"].push_back({{"job", job.name}, {"settings", settings_json(job.settings)}});
    }
    std::cout << out.dump(2) << std::endl;
    return kExitSuccess;
  }
  std::cout << "configuration file: "
            << (resolved.config_path.empty() ? "none" : resolved.config_path) << "\n\n";
  std::cout << "process\n";
  print_settings(resolved.process_settings);
  for (const auto& job : resolved.jobs) {
    std::cout << "\njob " << job.name << "\n";
    print_settings(job.settings);
  }
  std::cout << std::flush;
  return kExitSuccess;
}

}  // namespace batch_cleanup::cli
