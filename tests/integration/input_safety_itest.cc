// Issue 23, by the real binary: secrets of malformed URLs, sslpassword and --push-metrics never
// printed (stdout, stderr, JSON logs, `config`, a TOML file, the environment); the Pushgateway's
// basic auth sent; addresses in a database's own messages masked at every level; exit codes of
// credentials, pg_hba and privileges; lax input refused or normalised; private file modes.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "integration/backend_fixture.h"
#include "integration/own_server.h"
#include "integration/process.h"
#include "integration/prometheus_tools.h"

namespace batch_cleanup::testing {
namespace {

constexpr const char* kPending = "core_mstr_one_qlick_pending_users_tbl";

// Every output the process wrote.
std::string everything(const ProcessResult& result) { return result.out + "\n" + result.err; }

unsigned mode_of(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return 0;
  return info.st_mode & 0777;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct LeakCase {
  std::string url;
  std::string secret;
};

// The four patterns of the issue, each with a password no output may hold.
const std::vector<LeakCase>& malformed_urls() {
  static const std::vector<LeakCase> all = {
      {"postgresql://app:Pw777%9kLm@db.invalid/app", "Pw777%9kLm"},
      {"postgresql://app:BrackPw31@[::1/app", "BrackPw31"},
      {"postgresql:/u:SlashPw52@h.invalid/db", "SlashPw52"},
      {"postgresql://app:At@TailPw64@db.invalid/app", "TailPw64"},
  };
  return all;
}

TEST(InputSafetyTest, MalformedUrlsAreRefusedWithoutTheirPasswordsEverywhere) {
  TempDir dir;
  for (const auto& bad : malformed_urls()) {
    SCOPED_TRACE(bad.url);
    const auto file = dir.write("c.toml", "database-url = \"" + bad.url + "\"\n");
    const std::vector<std::pair<std::vector<std::string>, std::map<std::string, std::string>>>
        runs = {
            {{"--run-once", "--database-url", bad.url}, {}},
            {{"--run-once", "--log-format", "json", "--log-level", "trace", "--database-url",
              bad.url},
             {}},
            {{"--run-once", "--output", "json", "--log-format", "json"},
             {{"DATABASE_URL", bad.url}}},
            {{"--run-once", "--config", file}, {}},
            {{"config", "--database-url", bad.url}, {}},
            {{"config", "--output", "json", "--config", file}, {}},
            {{"explain", "--database-url", bad.url}, {}},
        };
    for (const auto& [args, env] : runs) {
      const auto result = run_tool(args, env, std::chrono::seconds(30));
      EXPECT_EQ(result.exit_code, 2) << ::testing::PrintToString(args) << "\n" << result.err;
      EXPECT_EQ(everything(result).find(bad.secret), std::string::npos)
          << ::testing::PrintToString(args) << "\n"
          << everything(result);
      // Reported by kind and position.
      EXPECT_NE(result.err.find("database URL"), std::string::npos) << result.err;
    }
  }
}

TEST(InputSafetyTest, SslPasswordAndPushCredentialsAreNeverPrinted) {
  const std::string ssl_secret = "K3yPassw0rd77";
  const std::string push_secret = "Pu5hS3cretZ9";
  const std::string url =
      "postgresql://app@127.0.0.1:1/app?sslmode=prefer&sslpassword=" + ssl_secret;
  const std::string push = "http://pushuser:" + push_secret + "@127.0.0.1:1";
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"config", "--database-url", url, "--push-metrics", push},
           {"config", "--output", "json", "--database-url", url, "--push-metrics", push},
           {"--run-once", "--retries", "0", "--log-level", "trace", "--database-url", url,
            "--push-metrics", push},
           {"--run-once", "--retries", "0", "--log-format", "json", "--output", "json",
            "--database-url", "host=127.0.0.1 port=1 sslpassword='" + ssl_secret + "'"}}) {
    const auto result = run_tool(args, {}, std::chrono::seconds(60));
    EXPECT_EQ(everything(result).find(ssl_secret), std::string::npos)
        << ::testing::PrintToString(args) << "\n"
        << everything(result);
    EXPECT_EQ(everything(result).find(push_secret), std::string::npos)
        << ::testing::PrintToString(args) << "\n"
        << everything(result);
    if (args.front() == "config") {
      EXPECT_EQ(result.exit_code, 0) << result.err;
      EXPECT_NE(result.out.find("sslpassword=***"), std::string::npos) << result.out;
      EXPECT_NE(result.out.find("http://***@127.0.0.1:1"), std::string::npos) << result.out;
    } else {
      EXPECT_EQ(result.exit_code, 3) << result.err;  // nothing listens on port 1
    }
  }
}

// A Pushgateway that requires basic auth (exporter-toolkit's web configuration, a bcrypt hash
// made by htpasswd) receives the push; the warning of a refused push shows no credentials.
TEST(InputSafetyTest, PushMetricsSendsItsBasicAuthAndNeverPrintsIt) {
  for (const char* program : {"/usr/bin/prometheus-pushgateway", "/usr/bin/htpasswd"}) {
    if (!program_installed(program)) GTEST_SKIP() << program << " is not installed";
  }
  TempDir dir;
  const std::string password = "GateKeeper8pw";
  ChildProcess htpasswd({"/usr/bin/htpasswd", "-nbBC", "10", "pushuser", password}, {});
  const auto hashed = htpasswd.wait(std::chrono::seconds(30));
  ASSERT_EQ(hashed.exit_code, 0) << hashed.err;
  const auto hash =
      hashed.out.substr(hashed.out.find(':') + 1, hashed.out.find('\n') - hashed.out.find(':') - 1);
  const auto web = dir.write("web.yml", "basic_auth_users:\n  pushuser: " + hash + "\n");
  const PortLease lease;
  ASSERT_GT(lease.port(), 0);
  const int port = lease.port();
  ToolServer gateway(
      {"/usr/bin/prometheus-pushgateway", "--web.listen-address=127.0.0.1:" + std::to_string(port),
       "--web.config.file=" + web},
      port, "/-/ready");
  // The readiness probe needs the credentials too: ask curl instead.
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  ASSERT_TRUE(eventually(
      [&] {
        ChildProcess curl({"/usr/bin/curl", "-sf", "-u", "pushuser:" + password, base + "/-/ready"},
                          {});
        return curl.wait(std::chrono::seconds(10)).exit_code == 0;
      },
      std::chrono::seconds(30)))
      << gateway.log();
  auto db = make_test_database(TestBackend::kSqlite);
  db->create_original_schema();
  db->insert_users(0, 5);
  db->insert_pending(0, 8);
  const auto pushed =
      run_tool({"--run-once", "--database-url", db->url(), "--push-metrics",
                "http://pushuser:" + password + "@127.0.0.1:" + std::to_string(port)});
  EXPECT_EQ(pushed.exit_code, 0) << pushed.err;
  EXPECT_EQ(pushed.err.find("warning"), std::string::npos) << pushed.err;
  EXPECT_EQ(everything(pushed).find(password), std::string::npos) << everything(pushed);
  EXPECT_EQ(db->count(kPending), 3);
  ChildProcess read({"/usr/bin/curl", "-sf", "-u", "pushuser:" + password, base + "/metrics"}, {});
  const auto metrics = read.wait(std::chrono::seconds(10));
  EXPECT_NE(metrics.out.find("batch_cleanup_rows_deleted_total"), std::string::npos) << metrics.out;
  // A wrong password: the gateway answers 401, the warning names the URL without credentials.
  const std::string wrong = "WrongPassw0rd1";
  const auto refused =
      run_tool({"--run-once", "--database-url", db->url(), "--push-metrics",
                "http://pushuser:" + wrong + "@127.0.0.1:" + std::to_string(port)});
  EXPECT_EQ(refused.exit_code, 0) << refused.err;
  EXPECT_NE(refused.err.find("HTTP 401"), std::string::npos) << refused.err;
  EXPECT_EQ(everything(refused).find(wrong), std::string::npos) << everything(refused);
}

using ExitCodeTest = BackendTest;

// A wrong password (28P01) and a pg_hba reject (28000) are configuration errors: exit 2, and
// a failed dry run prints no count.
TEST(PgExitCodeTest, WrongPasswordAndPgHbaRejectExitTwo) {
  if (!postgres_available()) GTEST_SKIP() << "no PostgreSQL server";
  OwnServer server(shared_server_port() + 31);
  server.start();
  create_app_database(server, 5);
  pg(server.url(), "CREATE ROLE app LOGIN PASSWORD 'Right-Pw-1'");
  server.require_tls_and_password();
  const std::string tcp = fmt::format("host=127.0.0.1 port={} user=app dbname=app", server.port());
  const auto wrong = run_tool(
      {"--run-once", "--dry-run", "--database-url", tcp + " sslmode=require password=Wrong-Pw-2"},
      {}, std::chrono::seconds(60));
  EXPECT_EQ(wrong.exit_code, 2) << wrong.err;
  EXPECT_NE(wrong.err.find("authentication"), std::string::npos) << wrong.err;
  EXPECT_EQ(wrong.out.find("would be deleted"), std::string::npos) << wrong.out;
  EXPECT_EQ(everything(wrong).find("Wrong-Pw-2"), std::string::npos) << everything(wrong);
  const auto hba =
      run_tool({"--run-once", "--database-url", tcp + " sslmode=disable password=Right-Pw-1"}, {},
               std::chrono::seconds(60));
  EXPECT_EQ(hba.exit_code, 2) << hba.err;
  EXPECT_NE(hba.err.find("pg_hba.conf"), std::string::npos) << hba.err;
  EXPECT_EQ(pg(server.socket_url("app"), "SELECT count(*) FROM " + std::string(kPending)), "5");
}

// An archive table the role may not create (42501): exit 2, nothing deleted.
TEST_P(ExitCodeTest, ARefusedPrivilegeExitsTwo) {
  if (!db_->is_postgres()) GTEST_SKIP() << "roles are PostgreSQL's";
  db_->create_original_schema();
  db_->insert_users(0, 5);
  db_->insert_pending(0, 5);
  const std::string role = fmt::format("bc_nocreate_{:08x}", std::random_device{}());
  db_->exec("REVOKE CREATE ON SCHEMA public FROM PUBLIC; CREATE ROLE " + role +
            " LOGIN; GRANT SELECT ON core_mstr_one_qlick_users_tbl TO " + role +
            "; GRANT SELECT, DELETE, UPDATE ON " + kPending + " TO " + role +
            // The lease table made for it, as README's least-privilege setup does: the
            // archive table is the one thing it may not create.
            "; CREATE TABLE batch_cleanup_leases (name text PRIMARY KEY, holder text NOT NULL, "
            "epoch bigint NOT NULL, acquired_at timestamptz NOT NULL, heartbeat_at timestamptz "
            "NOT NULL, expires_at timestamptz NOT NULL); GRANT SELECT, INSERT, UPDATE ON "
            "batch_cleanup_leases TO " +
            role);
  const auto result = run_tool({"--run-once", "--no-history", "--archive-table", "bc_archive",
                                "--database-url", db_->url() + " user=" + role});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("privilege"), std::string::npos) << result.err;
  EXPECT_EQ(db_->count(kPending), 5);
  db_->exec("DROP OWNED BY " + role + "; DROP ROLE " + role);
}

// A trigger's message and a foreign key's DETAIL quote addresses: masked at trace level too,
// unless --log-pii.
TEST_P(ExitCodeTest, AddressesInTheDatabasesMessagesAreMaskedAtEveryLevel) {
  db_->create_original_schema();
  db_->insert_users(0, 3);
  db_->insert_pending(0, 3);
  if (db_->is_postgres()) {
    db_->exec(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF OLD.email = "
        "'user1@example.com' THEN RAISE EXCEPTION 'kept % for boss.person@corp.example.org', "
        "OLD.email; END IF; RETURN OLD; END $$; CREATE TRIGGER refuse BEFORE DELETE ON " +
        std::string(kPending) + " FOR EACH ROW EXECUTE FUNCTION refuse()");
  } else {
    db_->exec("CREATE TRIGGER refuse BEFORE DELETE ON " + std::string(kPending) +
              " WHEN OLD.email = 'user1@example.com' BEGIN SELECT RAISE(ABORT, 'kept "
              "user1@example.com for boss.person@corp.example.org'); END");
  }
  const auto masked = run_on_db({"--run-once", "--log-level", "trace", "--output", "json"});
  EXPECT_EQ(masked.exit_code, 1) << masked.err;
  EXPECT_EQ(db_->count(kPending), 1);
  for (const char* address : {"user1@example.com", "boss.person@corp.example.org"}) {
    EXPECT_EQ(everything(masked).find(address), std::string::npos) << address << "\n"
                                                                   << everything(masked);
  }
  EXPECT_NE(masked.err.find("b***@corp.example.org"), std::string::npos) << masked.err;
  const auto shown = run_on_db({"--run-once", "--log-level", "debug", "--log-pii"});
  EXPECT_NE(shown.err.find("boss.person@corp.example.org"), std::string::npos) << shown.err;
}

TEST_P(ExitCodeTest, LaxInputIsRefusedOrNormalised) {
  db_->create_original_schema();
  db_->insert_users(0, 3);
  db_->insert_pending(0, 3);
  TempDir dir;
  const auto refused = [&](std::vector<std::string> args, const std::string& named) {
    const auto result = run_on_db(std::move(args));
    EXPECT_EQ(result.exit_code, 2) << named << "\n" << result.err;
    EXPECT_NE(result.err.find(named), std::string::npos) << named << "\n" << result.err;
  };
  refused({"--run-once", "--max-rate", "nan"}, "nan");
  refused({"--run-once", "--config", dir.write("rate.toml", "max-rate = nan\n")}, "nan");
  refused({"--config", dir.write("dry.toml", "dry-run = \"yes\"\nrun-once = true\n")}, "dry-run");
  refused({"--config", dir.write("once.toml", "run-once = \"true\"\n")}, "run-once");
  if (db_->is_postgres()) {
    db_->exec("ALTER TABLE " + std::string(kPending) +
              " ADD COLUMN created_at timestamptz NOT NULL DEFAULT now()");
    refused({"--run-once", "--expire-after", "30d", "--created-column", "created_at",
             "--created-time-zone", "Mars/Olympus_Mons"},
            "Mars/Olympus_Mons");
  }
  EXPECT_EQ(db_->count(kPending), 3);
  // Normalised, and shown so by `config`; exempt addresses masked there.
  const auto shown =
      run_on_db({"config", "--output", "json", "--match", "email,email", "--exclude-domain",
                 "@example.org", "--exclude-email", "ceo.person@example.org"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  std::map<std::string, std::string> values;
  const auto parsed = nlohmann::json::parse(shown.out);
  for (const auto& setting : parsed["jobs"][0]["settings"]) {
    values[setting["key"].get<std::string>()] = setting["value"].get<std::string>();
  }
  EXPECT_EQ(values["match"], "email");
  EXPECT_EQ(values["exclude-domain"], "example.org");
  EXPECT_EQ(values["exclude-email"], "c***@example.org");
  EXPECT_EQ(shown.out.find("ceo.person@example.org"), std::string::npos) << shown.out;
  // A normalised duplicate still deletes what --match email deletes.
  const auto run =
      run_on_db({"--run-once", "--match", "email,email", "--exclude-domain", "@example.com"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(db_->count(kPending), 3);  // every email is at example.com: all exempt
}

TEST_P(ExitCodeTest, PersonalDataFilesArePrivateAndTheirDirectoriesMustExist) {
  db_->create_original_schema();
  db_->insert_users(0, 3);
  db_->insert_pending(0, 3);
  TempDir dir;
  const auto log = dir.path() + "/run.log";
  const auto archive = dir.path() + "/archive.jsonl";
  const auto metrics = dir.path() + "/bc.prom";
  const auto run = run_on_db(
      {"--run-once", "--log-file", log, "--archive-file", archive, "--metrics-file", metrics});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(db_->count(kPending), 0);
  EXPECT_EQ(mode_of(log), 0600u);
  EXPECT_EQ(mode_of(archive), 0600u);
  EXPECT_EQ(mode_of(metrics), 0600u);
  EXPECT_NE(read_all(archive).find("user0@example.com"), std::string::npos);
  // Existing files made readable by others: a warning each, and they are not widened further.
  for (const auto& path : {log, archive, metrics}) ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  const auto warned = run_on_db(
      {"--run-once", "--log-file", log, "--archive-file", archive, "--metrics-file", metrics});
  EXPECT_EQ(warned.exit_code, 0) << warned.err;
  for (const char* flag : {"--log-file", "--archive-file", "--metrics-file"}) {
    EXPECT_NE(warned.err.find(std::string(flag) + " '"), std::string::npos) << flag << "\n"
                                                                            << warned.err;
  }
  EXPECT_NE(warned.err.find("has mode 0644"), std::string::npos) << warned.err;
  // A missing directory is an error, and is not created.
  const auto missing = dir.path() + "/missing";
  for (const auto& [flag, file] : std::vector<std::pair<std::string, std::string>>{
           {"--log-file", "x.log"}, {"--archive-file", "a.jsonl"}, {"--metrics-file", "m.prom"}}) {
    const auto result = run_on_db({"--run-once", flag, missing + "/" + file});
    EXPECT_EQ(result.exit_code, 2) << flag << "\n" << result.err;
    EXPECT_NE(result.err.find("does not exist"), std::string::npos) << flag << "\n" << result.err;
    EXPECT_FALSE(std::filesystem::exists(missing)) << flag;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ExitCodeTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         backend_param_name);

}  // namespace
}  // namespace batch_cleanup::testing
