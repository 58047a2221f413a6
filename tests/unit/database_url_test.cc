#include "config/database_url.h"

#include <gtest/gtest.h>

#include "batch_cleanup/errors.h"

namespace batch_cleanup::config {
namespace {

TEST(DatabaseUrlTest, PostgresForms) {
  for (const char* url :
       {"postgresql://app:pw@db:5432/app", "postgres://db/app", "host=db dbname=app user=app",
        "postgresql:///app?host=/run/postgresql"}) {
    const auto target = parse_database_url(url);
    EXPECT_EQ(target.backend, Backend::kPostgres) << url;
    EXPECT_EQ(target.conninfo, url);
  }
}

TEST(DatabaseUrlTest, SqliteForms) {
  auto relative = parse_database_url("sqlite:data/app.db");
  EXPECT_EQ(relative.backend, Backend::kSqlite);
  EXPECT_EQ(relative.sqlite_path, "data/app.db");
  auto absolute = parse_database_url("sqlite:///var/lib/app/app.db");
  EXPECT_EQ(absolute.sqlite_path, "/var/lib/app/app.db");
  EXPECT_EQ(parse_database_url("sqlite:/tmp/x.db").sqlite_path, "/tmp/x.db");
}

TEST(DatabaseUrlTest, RejectsUnsupportedAndEmpty) {
  EXPECT_THROW(parse_database_url(""), ConfigError);
  EXPECT_THROW(parse_database_url("oracle://db/app"), ConfigError);
  EXPECT_THROW(parse_database_url("mysql://db/"), ConfigError);  // no database
  EXPECT_THROW(parse_database_url("sqlite:"), ConfigError);
  EXPECT_THROW(parse_database_url("sqlite://host/x.db"), ConfigError);
  EXPECT_THROW(parse_database_url("just-a-word"), ConfigError);
  try {
    parse_database_url("oracle://u:secret@db/app");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(
        e.what(),
        "unsupported database URL scheme 'oracle': use postgresql://, postgres://, a libpq "
        "key=value string, sqlite:PATH, mysql:// or mariadb://");
  }
}

TEST(DatabaseUrlTest, RedactsPasswords) {
  EXPECT_EQ(redact_database_url("postgresql://app:s3cr3t@db:5432/app"),
            "postgresql://app:***@db:5432/app");
  EXPECT_EQ(redact_database_url("postgresql://app@db/app"), "postgresql://app@db/app");
  EXPECT_EQ(redact_database_url("postgresql://db/app?user=a&password=s3cr3t&sslmode=require"),
            "postgresql://db/app?user=a&password=***&sslmode=require");
  EXPECT_EQ(redact_database_url("host=db password=s3cr3t user=app"),
            "host=db password=*** user=app");
  EXPECT_EQ(redact_database_url("host=db password = 'a b\\'c' user=app"),
            "host=db password=*** user=app");
  EXPECT_EQ(redact_database_url("postgresql://app:p%40ss@db/app"), "postgresql://app:***@db/app");
  EXPECT_EQ(parse_database_url("postgresql://app:s3cr3t@db/app").redacted,
            "postgresql://app:***@db/app");
}

TEST(DatabaseUrlTest, ExtractsThePasswordForScrubbing) {
  EXPECT_EQ(extract_password("postgresql://app:s3cr3t@db:5432/app"), "s3cr3t");
  EXPECT_EQ(extract_password("host=db password=s3cr3t user=app"), "s3cr3t");
  EXPECT_EQ(extract_password("host=db user=app password=tail"), "tail");
  EXPECT_EQ(extract_password("postgresql://db/app?password=qp"), "qp");
  EXPECT_EQ(extract_password("postgresql://db/app"), "");
}

// A NUL byte ends the text libpq and SQLite read: the rest would be neither used nor known as
// a secret, so the URL is refused, and the refusal prints none of it (found by
// fuzz/secret_redaction_fuzz.cc).
TEST(DatabaseUrlTest, RefusesANulByte) {
  using namespace std::string_literals;
  const std::string kv = "host=db user=app password=Zq7Secr3tWx\x02\0 u@[Zq7Secr3tWx:"s;
  try {
    (void)parse_database_url(kv);
    FAIL() << "a NUL byte was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "invalid database URL: a NUL byte at character 39 (of 55)");
  }
  EXPECT_THROW(parse_database_url("sqlite:/tmp/a.db\0x"s), ConfigError);
  EXPECT_EQ(redact_database_url(kv).find("Zq7Secr3tWx"), std::string::npos);
}

}  // namespace
}  // namespace batch_cleanup::config
