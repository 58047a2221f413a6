// The configuration file: parsing, the layering flag > environment > [[job]] table > top level >
// default, errors that name the key and line, and redaction.
#include "config/config_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "batch_cleanup/errors.h"
#include "config/resolve_config.h"

namespace batch_cleanup::config {
namespace {

// A configuration file in a temporary directory, removed afterwards.
class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    char dir[] = "/tmp/bc_config_test_XXXXXX";
    dir_ = mkdtemp(dir);
    path_ = dir_ + "/batch_cleanup.toml";
    std::ofstream(path_) << text;
  }
  ~TempFile() { std::filesystem::remove_all(dir_); }
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

// Sets an environment variable for the scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~ScopedEnv() { unsetenv(name_); }

 private:
  const char* name_;
};

const Setting& setting(const std::vector<Setting>& settings, const std::string& key) {
  for (const auto& s : settings) {
    if (s.key == key) return s;
  }
  throw std::runtime_error("no setting " + key);
}

const ResolvedJob& job(const ResolvedConfig& resolved, const std::string& name) {
  for (const auto& j : resolved.jobs) {
    if (j.name == name) return j;
  }
  throw std::runtime_error("no job " + name);
}

// The error message of resolving `text` (fails the test when it resolves).
std::string error_of(const std::string& text, const std::vector<GivenOption>& given = {}) {
  TempFile file(text);
  try {
    resolve_config(given, file.path());
  } catch (const ConfigError& e) {
    return std::string(e.what());
  }
  ADD_FAILURE() << "no error for:\n" << text;
  return "";
}

constexpr const char* kTwoJobs = R"(# shared by every job
batch-size = 1000
sleep = "5ms"
lock_timeout = "5s"

[[job]]
name = "tenant_a"
pending-table = "tenant_a.pending"
batch-size = 200

[[job]]
name = "tenant_b"
pending-table = "tenant_b.pending"
)";

TEST(ConfigFileTest, WithoutAFileThereIsOneDefaultJob) {
  const auto resolved = resolve_config({}, "");
  EXPECT_FALSE(resolved.named_jobs);
  EXPECT_TRUE(resolved.config_path.empty());
  ASSERT_EQ(resolved.jobs.size(), 1u);
  EXPECT_EQ(resolved.jobs[0].name, "default");
  EXPECT_EQ(resolved.jobs[0].config.job_name, "default");
  EXPECT_EQ(resolved.jobs[0].config.batch_size, 5000);
  EXPECT_EQ(setting(resolved.jobs[0].settings, "batch-size").source.text(), "default");
  EXPECT_EQ(setting(resolved.jobs[0].settings, "batch-size").value, "5000");
}

TEST(ConfigFileTest, AFileWithoutJobsIsTheDefaultJob) {
  TempFile file("batch-size = 42\nusers-table = \"app.users\"\n");
  const auto resolved = resolve_config({}, file.path());
  EXPECT_FALSE(resolved.named_jobs);
  ASSERT_EQ(resolved.jobs.size(), 1u);
  EXPECT_EQ(resolved.jobs[0].name, "default");
  EXPECT_EQ(resolved.jobs[0].config.batch_size, 42);
  EXPECT_EQ(resolved.jobs[0].config.users_table, "app.users");
  EXPECT_EQ(setting(resolved.jobs[0].settings, "users-table").source.text(),
            "file " + file.path() + ":2");
}

TEST(ConfigFileTest, JobTableBeatsTopLevelBeatsDefault) {
  TempFile file(kTwoJobs);
  const auto resolved = resolve_config({}, file.path());
  EXPECT_TRUE(resolved.named_jobs);
  ASSERT_EQ(resolved.jobs.size(), 2u);
  EXPECT_EQ(resolved.jobs[0].name, "tenant_a");  // file order
  const auto& a = job(resolved, "tenant_a");
  const auto& b = job(resolved, "tenant_b");
  EXPECT_EQ(a.config.job_name, "tenant_a");
  EXPECT_EQ(a.config.batch_size, 200);
  EXPECT_EQ(setting(a.settings, "batch-size").source.text(), "file " + file.path() + ":9");
  EXPECT_EQ(b.config.batch_size, 1000);
  EXPECT_EQ(setting(b.settings, "batch-size").source.text(), "file " + file.path() + ":2");
  EXPECT_EQ(a.config.pending_table, "tenant_a.pending");
  EXPECT_EQ(b.config.pending_table, "tenant_b.pending");
  // Underscores work as dashes.
  EXPECT_EQ(b.config.lock_timeout, std::chrono::seconds(5));
  EXPECT_EQ(setting(b.settings, "lock-timeout").source.text(), "file " + file.path() + ":4");
  // Neither: the default.
  EXPECT_EQ(a.config.users_table, "core_mstr_one_qlick_users_tbl");
  EXPECT_EQ(setting(a.settings, "users-table").source.text(), "default");
}

TEST(ConfigFileTest, EnvironmentBeatsTheFile) {
  TempFile file(kTwoJobs);
  ScopedEnv env("BATCH_CLEANUP_BATCH_SIZE", "300");
  const auto resolved = resolve_config({}, file.path());
  for (const auto& j : resolved.jobs) {
    EXPECT_EQ(j.config.batch_size, 300) << j.name;
    EXPECT_EQ(setting(j.settings, "batch-size").source.text(), "env BATCH_CLEANUP_BATCH_SIZE");
  }
}

TEST(ConfigFileTest, FlagBeatsTheEnvironment) {
  TempFile file(kTwoJobs);
  ScopedEnv env("BATCH_CLEANUP_BATCH_SIZE", "300");
  const auto resolved = resolve_config({{"batch-size", {"400"}, ""}}, file.path());
  for (const auto& j : resolved.jobs) {
    EXPECT_EQ(j.config.batch_size, 400) << j.name;
    EXPECT_EQ(setting(j.settings, "batch-size").source.text(), "flag");
  }
}

TEST(ConfigFileTest, GivenOptionsTellFlagsFromEnvironment) {
  CLI::App app{"test"};
  CleanupConfig config;
  OptionTexts texts;
  CliSettings cli;
  declare_options(app, config, texts, &cli);
  ScopedEnv env("BATCH_CLEANUP_SLEEP", "7ms");
  const char* argv[] = {"batch_cleanup", "--batch-size", "12", "--dry-run"};
  app.parse(4, argv);
  const auto given = given_options(app);
  std::map<std::string, GivenOption> by_key;
  for (const auto& g : given) by_key[g.key] = g;
  ASSERT_EQ(by_key.size(), 3u);
  EXPECT_EQ(by_key["batch-size"].values, std::vector<std::string>{"12"});
  EXPECT_EQ(by_key["batch-size"].env, "");
  EXPECT_EQ(by_key["dry-run"].env, "");
  EXPECT_EQ(by_key["sleep"].values, std::vector<std::string>{"7ms"});
  EXPECT_EQ(by_key["sleep"].env, "BATCH_CLEANUP_SLEEP");
  // Layered over a file that sets both: the flag and the environment win.
  TempFile file("batch-size = 1\nsleep = \"1s\"\ndry-run = false\n");
  const auto resolved = resolve_config(given, file.path());
  EXPECT_EQ(resolved.jobs[0].config.batch_size, 12);
  EXPECT_EQ(resolved.jobs[0].config.sleep_between_batches, std::chrono::milliseconds(7));
  EXPECT_TRUE(resolved.jobs[0].config.dry_run);
  EXPECT_EQ(setting(resolved.jobs[0].settings, "sleep").source.text(), "env BATCH_CLEANUP_SLEEP");
}

TEST(ConfigFileTest, EmptyValuesStayEmpty) {
  TempFile file("archive-table = \"\"\nmax-deletes = \"\"\nsleep = \"5ms\"\n");
  const auto resolved = resolve_config({{"log-file", {""}, ""}}, file.path());
  EXPECT_TRUE(resolved.jobs[0].config.archive_table.empty());
  EXPECT_EQ(resolved.jobs[0].config.max_deletes, -1);
  EXPECT_EQ(resolved.jobs[0].config.sleep_between_batches, std::chrono::milliseconds(5));
  // An empty flag value is passed on as empty, not swallowing the next value.
  try {
    resolve_config({{"email-column", {""}, ""}, {"batch-size", {"7"}, ""}}, "");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("invalid email column ''"), std::string::npos) << e.what();
  }
}

TEST(ConfigFileTest, BooleansNumbersAndDurations) {
  TempFile file(R"(dry-run = true
log-pii = true
max-rate = 12.5
max-fraction = 0.25
interval = 2
progress-interval = "1m"
sleep = 100
retries = 0

[[job]]
name = "quiet"
dry-run = false
interval = "15m"
)");
  const auto resolved = resolve_config({}, file.path());
  const auto& c = resolved.jobs[0].config;
  EXPECT_FALSE(c.dry_run);  // the job's false beats the top level's true
  EXPECT_TRUE(c.log_pii);
  EXPECT_DOUBLE_EQ(c.max_rate, 12.5);
  EXPECT_DOUBLE_EQ(c.max_fraction, 0.25);
  EXPECT_EQ(c.interval, std::chrono::minutes(15));
  EXPECT_EQ(c.progress_interval, std::chrono::minutes(1));
  EXPECT_EQ(c.sleep_between_batches, std::chrono::milliseconds(100));  // bare number: ms
  EXPECT_EQ(c.retries, 0);
  EXPECT_EQ(setting(resolved.jobs[0].settings, "dry-run").value, "false");

  TempFile hours("interval = 2\n");
  EXPECT_EQ(resolve_config({}, hours.path()).jobs[0].config.interval, std::chrono::hours(2));
  TempFile dry("dry-run = true\n");
  EXPECT_TRUE(resolve_config({}, dry.path()).jobs[0].config.dry_run);
}

TEST(ConfigFileTest, ProcessKeysAtTheTopLevel) {
  TempFile file(
      "log-level = \"debug\"\noutput = \"json\"\nrun-once = true\n[[job]]\nname = \"a\"\n");
  const auto resolved = resolve_config({}, file.path());
  EXPECT_EQ(resolved.cli.log_level, "debug");
  EXPECT_EQ(resolved.cli.output, "json");
  EXPECT_TRUE(resolved.cli.run_once);
  EXPECT_EQ(setting(resolved.process_settings, "log-level").source.text(),
            "file " + file.path() + ":1");
  // A process key is not a job setting.
  EXPECT_THROW(setting(resolved.jobs[0].settings, "log-level"), std::runtime_error);
}

TEST(ConfigFileTest, ArraysOnlyForOptionsThatTakeSeveralValues) {
  const auto message = error_of("users-table = [\"a\", \"b\"]\n");
  EXPECT_NE(message.find(":1: key 'users-table' takes one value, not an array"), std::string::npos)
      << message;
  // Every option that takes several values gets each element of an array as one value.
  CLI::App app{"test"};
  CleanupConfig config;
  OptionTexts texts;
  declare_options(app, config, texts, nullptr);
  // Values each option accepts: lists read from files need files that exist.
  TempFile list_a("a@example.com\n");
  TempFile list_b("b.example\n");
  const auto values_for = [&](const std::string& key) -> std::pair<std::string, std::string> {
    if (key == "exclude-domain-file") return {list_b.path(), list_b.path()};
    if (key == "where") return {"role IN ('a', 'b')", "is_verified = false"};
    if (key == "replica-url") return {"mysql://bc:pw1@replica1/app", "mysql://bc:pw2@replica2/app"};
    if (key.find("-file") != std::string::npos) return {list_a.path(), list_a.path()};
    if (key.find("domain") != std::string::npos) return {"first.example", "second.example"};
    return {"first@example.com", "second@example.com"};
  };
  int checked = 0;
  for (const auto* option : app.get_options()) {
    if (option->get_items_expected_max() <= 1 || option->get_lnames().empty()) continue;
    const auto key = option->get_lnames().front();
    const auto [first, second] = values_for(key);
    TempFile file(key + " = [\"" + first + "\", \"" + second + "\"]\n");
    const auto resolved = resolve_config({}, file.path());
    // As `config` shows them (exempt addresses masked).
    EXPECT_EQ(setting(resolved.jobs[0].settings, key).value,
              redact_setting(key, first + ", " + second))
        << key;
    ++checked;
  }
  // --exclude-email, --exclude-domain and their -file forms, --where and --replica-url.
  EXPECT_EQ(checked, 6);
}

TEST(ConfigFileTest, PolicyKeysInAJobTable) {
  TempFile exempt("# exempt\nceo@example.com\n");
  TempFile file(
      "expire-after = \"30d\"\n"
      "[[job]]\n"
      "name = \"tenant_a\"\n"
      "match = \"email,phone\"\n"
      "normalize-email = \"lower-trim\"\n"
      "min-age = \"15m\"\n"
      "exclude-email = [\"a@example.com\", \"B@example.com\"]\n"
      "exclude-email-file = \"" +
      exempt.path() +
      "\"\n"
      "exclude-domain = [\"partner.org\"]\n"
      "[[job]]\n"
      "name = \"tenant_b\"\n"
      "expire-after = \"7d\"\n");
  const auto resolved = resolve_config({}, file.path());
  ASSERT_EQ(resolved.jobs.size(), 2u);
  const auto& a = resolved.jobs[0].config;
  EXPECT_TRUE(a.match_email);
  EXPECT_TRUE(a.match_phone);
  EXPECT_EQ(a.normalize_email, EmailNormalization::kLowerTrim);
  EXPECT_EQ(a.min_age, std::chrono::minutes(15));
  EXPECT_EQ(a.expire_after, std::chrono::hours(24 * 30));  // from the top level
  EXPECT_EQ(a.exclude_emails,
            (std::vector<std::string>{"a@example.com", "B@example.com", "ceo@example.com"}));
  EXPECT_EQ(a.exclude_domains, (std::vector<std::string>{"partner.org"}));
  const auto& b = resolved.jobs[1].config;
  EXPECT_TRUE(b.match_email);
  EXPECT_FALSE(b.match_phone);
  EXPECT_EQ(b.expire_after, std::chrono::hours(24 * 7));  // the job's own
  EXPECT_TRUE(b.exclude_emails.empty());
  EXPECT_NE(error_of("[[job]]\nname = \"x\"\nexclude-domain = [\"a@b.org\"]\n")
                .find(":3: key 'exclude-domain'"),
            std::string::npos);
}

TEST(ConfigFileTest, ParsedArraysKeepEveryElement) {
  const auto file = parse_config_file("list = [\"a\", 2, true, 1.5]\n", "x.toml");
  ASSERT_EQ(file.top.size(), 1u);
  EXPECT_TRUE(file.top[0].array);
  EXPECT_EQ(file.top[0].values, (std::vector<std::string>{"a", "2", "true", "1.5"}));
  EXPECT_EQ(file.top[0].line, 1);
}

TEST(ConfigFileTest, UnknownKeyNamesTheKeyAndLine) {
  const auto message = error_of("batch-size = 10\n\nbatch-sise = 3\n");
  EXPECT_NE(message.find(":3: unknown key 'batch-sise'"), std::string::npos) << message;
  const auto in_job = error_of("[[job]]\nname = \"a\"\ncolour = \"blue\"\n");
  EXPECT_NE(in_job.find(":3: unknown key 'colour'"), std::string::npos) << in_job;
}

TEST(ConfigFileTest, ProcessKeyInAJobTableIsAnError) {
  const auto message = error_of("[[job]]\nname = \"a\"\nlog-level = \"debug\"\n");
  EXPECT_NE(message.find(":3: key 'log-level' applies to the whole process"), std::string::npos)
      << message;
  const auto daemon = error_of("[[job]]\nname = \"a\"\n\ndaemon = true\n");
  EXPECT_NE(daemon.find(":4: key 'daemon'"), std::string::npos) << daemon;
  const auto config = error_of("config = \"other.toml\"\n");
  EXPECT_NE(config.find(":1: key 'config'"), std::string::npos) << config;
}

TEST(ConfigFileTest, JobNames) {
  const auto duplicate = error_of("[[job]]\nname = \"a\"\n[[job]]\nname = \"a\"\n");
  EXPECT_NE(duplicate.find(":4: job name 'a' is already used on line 2"), std::string::npos)
      << duplicate;
  const auto missing = error_of("[[job]]\nbatch-size = 3\n");
  EXPECT_NE(missing.find(":1: [[job]] without a name"), std::string::npos) << missing;
  const auto bad = error_of("[[job]]\nname = \"tenant a\"\n");
  EXPECT_NE(bad.find(":2: job name"), std::string::npos) << bad;
  const auto table = error_of("[job]\nname = \"a\"\n");
  EXPECT_NE(table.find(":1: 'job' must be an array of tables"), std::string::npos) << table;
}

TEST(ConfigFileTest, SyntaxErrorNamesTheLine) {
  const auto message = error_of("batch-size = 10\nsleep = \"5ms\n");
  EXPECT_NE(message.find(":2:"), std::string::npos) << message;
  const auto equals = error_of("\n\n\nbatch-size == 3\n");
  EXPECT_NE(equals.find(":4:"), std::string::npos) << equals;
}

TEST(ConfigFileTest, BadValueNamesTheKeyAndLine) {
  const auto range = error_of("\nbatch-size = 0\n");
  EXPECT_NE(range.find(":2: key 'batch-size': "), std::string::npos) << range;
  const auto duration = error_of("[[job]]\nname = \"a\"\ninterval = \"soon\"\n");
  EXPECT_NE(duration.find(":3: key 'interval': invalid duration 'soon'"), std::string::npos)
      << duration;
  const auto identifier = error_of("users-table = \"users; drop\"\n");
  EXPECT_NE(identifier.find(":1: key 'users-table': invalid users table"), std::string::npos)
      << identifier;
  const auto type = error_of("batch-size = 1979-05-27\n");
  EXPECT_NE(type.find(":1: key 'batch-size'"), std::string::npos) << type;
  const auto duplicate = error_of("batch-size = 1\nbatch_size = 2\n");
  EXPECT_NE(duplicate.find(":2: key 'batch_size' is already set on line 1"), std::string::npos)
      << duplicate;
}

TEST(ConfigFileTest, UnreadableFile) {
  try {
    resolve_config({}, "/nonexistent/batch_cleanup.toml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/batch_cleanup.toml"), std::string::npos);
  }
}

TEST(ConfigFileTest, SecretsAreRedacted) {
  TempFile file(
      "database-url = \"postgresql://cleanup:hunter2@db.internal/app\"\n"
      "[[job]]\nname = \"kv\"\ndatabase-url = \"host=db user=cleanup password=hunter2\"\n"
      "[[job]]\nname = \"url\"\n");
  const auto resolved = resolve_config({}, file.path());
  const auto& kv = setting(job(resolved, "kv").settings, "database-url");
  const auto& url = setting(job(resolved, "url").settings, "database-url");
  EXPECT_EQ(kv.value.find("hunter2"), std::string::npos) << kv.value;
  EXPECT_NE(kv.value.find("***"), std::string::npos) << kv.value;
  EXPECT_EQ(url.value, "postgresql://cleanup:***@db.internal/app");
  // The config itself keeps the secret: it is needed to connect.
  EXPECT_EQ(job(resolved, "url").config.database_url,
            "postgresql://cleanup:hunter2@db.internal/app");
  EXPECT_EQ(redact_setting("smtp-password", "hunter2"), "***");
  EXPECT_EQ(redact_setting("users-table", "app.users"), "app.users");
  EXPECT_EQ(redact_setting("smtp-password", ""), "");
}

TEST(ConfigFileTest, ExemptionListsCombineEveryLayer) {
  TempFile file(
      "exclude-domain = [\"top.example\"]\n"
      "[[job]]\nname = \"a\"\nexclude-email = [\"vip@x.com\"]\nexclude-domain = "
      "[\"job.example\"]\n");
  setenv("BATCH_CLEANUP_EXCLUDE_DOMAIN", "env.example", 1);
  const auto resolved = resolve_config({{"exclude-email", {"flag@x.com"}, ""}}, file.path());
  unsetenv("BATCH_CLEANUP_EXCLUDE_DOMAIN");
  const auto& config = resolved.jobs[0].config;
  // A flag or variable adds to the file's exemptions; it never drops them.
  EXPECT_EQ(config.exclude_emails, (std::vector<std::string>{"flag@x.com", "vip@x.com"}));
  EXPECT_EQ(config.exclude_domains,
            (std::vector<std::string>{"env.example", "job.example", "top.example"}));
}

TEST(ConfigFileTest, OverridingAJobsOwnValueIsWarnedAbout) {
  TempFile file(
      "pending-table = \"top_pending\"\n"
      "[[job]]\nname = \"a\"\ndatabase-url = \"postgresql://cleanup:secret@db-a/app\"\n"
      "[[job]]\nname = \"b\"\n");
  setenv("DATABASE_URL", "postgresql://other@db-x/app", 1);
  const auto resolved = resolve_config({{"pending-table", {"flag_pending"}, ""}}, file.path());
  unsetenv("DATABASE_URL");
  ASSERT_EQ(resolved.warnings.size(), 1u);  // only job a sets database-url itself
  const auto& warning = resolved.warnings[0];
  EXPECT_NE(warning.find("job 'a': environment variable DATABASE_URL overrides the job's own "
                         "database-url"),
            std::string::npos)
      << warning;
  EXPECT_EQ(warning.find("secret"), std::string::npos) << warning;
  EXPECT_EQ(resolved.jobs[0].config.database_url, "postgresql://other@db-x/app");
}

TEST(ConfigFileTest, TheSampleFileUnderDeployParses) {
  const std::string path = std::string(BATCH_CLEANUP_SOURCE_DIR) + "/deploy/batch_cleanup.toml";
  const auto resolved = resolve_config({}, path);
  EXPECT_TRUE(resolved.named_jobs);
  ASSERT_GE(resolved.jobs.size(), 2u);
  for (const auto& j : resolved.jobs) {
    EXPECT_NE(j.config.pending_table, CleanupConfig{}.pending_table) << j.name;
    EXPECT_FALSE(j.config.database_url.empty()) << j.name;
  }
}

TEST(ConfigFileTest, JobNameIsValidated) {
  CleanupConfig config;
  config.job_name = "tenant_a.eu-1";
  EXPECT_NO_THROW(validate_config(config));
  config.job_name = "bad name";
  EXPECT_THROW(validate_config(config), ConfigError);
  config.job_name = "";
  EXPECT_THROW(validate_config(config), ConfigError);
}

}  // namespace
}  // namespace batch_cleanup::config
