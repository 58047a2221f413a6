// The option table (config/option_spec.h): one declaration per option, from which the CLI11
// options, the environment, the checks and the library's validation all come.
#include "config/option_spec.h"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "batch_cleanup/batch_cleanup.h"
#include "batch_cleanup/errors.h"
#include "config/options.h"
#include "config/resolve_config.h"

namespace batch_cleanup::config {
namespace {

std::string dashed(std::string_view name) { return "--" + std::string(name); }

TEST(OptionSpecTest, EveryOptionIsDeclaredOnce) {
  std::set<std::string_view> names;
  std::set<std::string_view> variables;
  for (const auto& spec : option_table()) {
    EXPECT_TRUE(names.insert(spec.name).second) << spec.name;
    if (!spec.env.empty()) {
      EXPECT_TRUE(variables.insert(spec.env).second) << spec.env;
    }
    EXPECT_NE(spec.convert, nullptr) << spec.name;
    EXPECT_FALSE(spec.help.empty()) << spec.name;
    EXPECT_NE(spec.commands, 0U) << spec.name;
    EXPECT_EQ(find_option(spec.name), &spec);
  }
  EXPECT_EQ(find_option("no-such-option"), nullptr);
  // The CLI11 app holds exactly the table's options (and --help).
  CLI::App app{"test"};
  CleanupConfig config;
  OptionTexts texts;
  CliSettings cli;
  declare_options(app, config, texts, &cli);
  std::set<std::string_view> declared;
  for (const auto* option : app.get_options()) {
    const auto& name = option->get_lnames().front();
    if (name != "help") declared.insert(find_option(name)->name);
  }
  EXPECT_EQ(declared, names);
}

// A default as --help shows it converts to the default of CleanupConfig or CliSettings.
TEST(OptionSpecTest, TheDeclaredDefaultsAreTheStructsDefaults) {
  int checked = 0;
  for (const auto& spec : option_table()) {
    if (spec.default_text.empty()) continue;
    Settings settings;
    spec.convert({std::string(spec.default_text)}, settings);
    // Given, a timeout counts as set (it then wins over a lower server setting); by default it
    // does not, at the same value.
    settings.config.lock_timeout_set = settings.config.statement_timeout_set = false;
    EXPECT_EQ(settings.config, CleanupConfig{}) << spec.name;
    EXPECT_EQ(settings.cli, CliSettings{}) << spec.name;
    ++checked;
  }
  EXPECT_GE(checked, 25);
}

// Every range a flag checks is checked by validate_config() too, for a CleanupConfig built in
// C++: the value just outside the range, converted without the flag's check, is refused by the
// library naming the flag; the bounds pass both.
TEST(OptionSpecTest, EveryRangeTheFlagChecksTheLibraryChecks) {
  int checked = 0;
  for (const auto& spec : option_table()) {
    std::vector<std::pair<std::string, bool>> cases;  // value, inside
    if (spec.int_range) {
      const auto& r = *spec.int_range;
      EXPECT_EQ(std::string(r.flag), dashed(spec.name));
      cases = {{std::to_string(r.lo), true},
               {std::to_string(r.hi), true},
               {std::to_string(r.lo - 1), false},
               {std::to_string(r.hi + 1), false}};
    } else if (spec.real_range) {
      const auto& r = *spec.real_range;
      EXPECT_EQ(std::string(r.flag), dashed(spec.name));
      cases = {{std::to_string(r.lo), true},
               {std::to_string(r.hi), true},
               {std::to_string(r.lo - 1), false},
               {std::to_string(r.hi * 2), false}};
    } else {
      continue;
    }
    for (const auto& [value, inside] : cases) {
      EXPECT_EQ(check_value(spec, value).empty(), inside) << spec.name << " " << value;
      if (spec.scope != Scope::kJob) continue;  // not part of a CleanupConfig
      Settings settings;
      spec.convert({value}, settings);
      if (inside) {
        EXPECT_NO_THROW(validate_config(settings.config)) << spec.name << " " << value;
        continue;
      }
      try {
        validate_config(settings.config);
        ADD_FAILURE() << spec.name << " " << value << " was accepted by the library";
      } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find(dashed(spec.name)), std::string::npos) << e.what();
      }
    }
    ++checked;
  }
  EXPECT_EQ(checked, 8);
}

// The library's own entry point refuses what the flag refuses, before it touches a database.
TEST(OptionSpecTest, TheServiceRefusesWorkersOutOfRange) {
  for (const int workers : {0, 65}) {
    CleanupConfig config;
    config.database_url = "sqlite:/nonexistent/never_opened.db";
    config.workers = workers;
    try {
      BatchCleanupService service(config);
      ADD_FAILURE() << "workers " << workers << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("--workers"), std::string::npos) << e.what();
    }
  }
}

// CLI11 does not read the environment: the one parse does, and knows the value came from it.
TEST(OptionSpecTest, TheEnvironmentIsReadOnceWithItsSource) {
  setenv("BATCH_CLEANUP_BATCH_SIZE", "77", 1);
  setenv("BATCH_CLEANUP_EXCLUDE_EMAIL", "a@x.com,b@x.com", 1);
  CLI::App app{"test"};
  CleanupConfig config;
  OptionTexts texts;
  CliSettings cli;
  declare_options(app, config, texts, &cli);
  const char* argv[] = {"batch_cleanup", "--sleep", "5ms"};
  app.parse(3, argv);
  EXPECT_EQ(app.get_option("--batch-size")->count(), 0U);
  // --help still names the variable.
  EXPECT_NE(app.help().find("(Env:BATCH_CLEANUP_BATCH_SIZE)"), std::string::npos);
  const auto resolved = resolve_config(given_options(app), "");
  unsetenv("BATCH_CLEANUP_BATCH_SIZE");
  unsetenv("BATCH_CLEANUP_EXCLUDE_EMAIL");
  const auto& job = resolved.jobs.front();
  EXPECT_EQ(job.config.batch_size, 77);
  EXPECT_EQ(job.config.exclude_emails, (std::vector<std::string>{"a@x.com", "b@x.com"}));
  std::map<std::string, std::string> sources;
  for (const auto& setting : job.settings) sources[setting.key] = setting.source.text();
  EXPECT_EQ(sources["batch-size"], "env BATCH_CLEANUP_BATCH_SIZE");
  EXPECT_EQ(sources["exclude-email"], "env BATCH_CLEANUP_EXCLUDE_EMAIL");
  EXPECT_EQ(sources["sleep"], "flag");
  EXPECT_EQ(sources["retries"], "default");
}

TEST(OptionSpecTest, AnEnvironmentValueIsCheckedAsItsFlag) {
  setenv("BATCH_CLEANUP_WORKERS", "65", 1);
  try {
    resolve_config({}, "");
    ADD_FAILURE() << "BATCH_CLEANUP_WORKERS=65 was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("BATCH_CLEANUP_WORKERS"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--workers: Value 65 not in range 1 to 64"),
              std::string::npos)
        << e.what();
  }
  unsetenv("BATCH_CLEANUP_WORKERS");
}

TEST(OptionSpecTest, AFileValueIsConvertedOnceAndNamesItsLine) {
  const auto dir = std::filesystem::temp_directory_path() / "bc_option_spec_test";
  std::filesystem::create_directories(dir);
  const auto path = (dir / "batch_cleanup.toml").string();
  std::ofstream(path) << "workers = 4\n[[job]]\nname = \"a\"\nmax-rate = 12.5\n";
  const auto resolved = resolve_config({}, path);
  EXPECT_EQ(resolved.jobs[0].config.workers, 4);
  EXPECT_DOUBLE_EQ(resolved.jobs[0].config.max_rate, 12.5);
  std::map<std::string, std::string> sources;
  for (const auto& setting : resolved.jobs[0].settings)
    sources[setting.key] = setting.source.text();
  EXPECT_EQ(sources["workers"], "file " + path + ":1");
  EXPECT_EQ(sources["max-rate"], "file " + path + ":4");
  std::ofstream(path) << "[[job]]\nname = \"a\"\nworkers = 65\n";
  try {
    resolve_config({}, path);
    ADD_FAILURE() << "workers = 65 was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(path + ":3: key 'workers': --workers: Value 65"),
              std::string::npos)
        << e.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace batch_cleanup::config
