// The one scrubber: malformed URLs are refused by kind and position, never echoed; secrets in
// every position of a URL or key=value string never come out; addresses in a database's
// message are masked; --push-metrics credentials are not printed.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "batch_cleanup/errors.h"
#include "config/database_url.h"
#include "config/options.h"
#include "config/resolve_config.h"
#include "http/pushgateway.h"
#include "log/mask.h"

namespace batch_cleanup {
namespace {

std::string refusal(const std::string& url) {
  try {
    config::parse_database_url(url);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "accepted";
  return "";
}

TEST(RedactionTest, TheFourLeakingPatternsAreReportedByKindAndPosition) {
  // A literal '%' in the password: libpq quoted the whole token.
  EXPECT_EQ(refusal("postgresql://app:Pw777%9kLm@db/app"),
            "invalid database URL: a '%' not followed by two hex digits (write '%' as %25) at "
            "character 23 (of 34)");
  // An unclosed IPv6 bracket: libpq quoted the whole URI.
  const auto bracket = refusal("postgresql://app:Br4ck3tPw@[::1/app");
  EXPECT_EQ(bracket.find("Br4ck3tPw"), std::string::npos) << bracket;
  EXPECT_EQ(bracket,
            "invalid database URL: an IPv6 host address without its closing ']' at character 28 "
            "(of 35)");
  // A missing slash: our own message quoted it.
  const auto slash = refusal("postgresql:/u:Sl4shPw@h/db");
  EXPECT_EQ(slash.find("Sl4shPw"), std::string::npos) << slash;
  EXPECT_NE(slash.find("without '//'"), std::string::npos) << slash;
  // An unencoded '@' in the password: the tail after the first '@' was printed.
  const auto at = refusal("postgresql://app:p@ssW0rdTail@db/app");
  EXPECT_EQ(at.find("ssW0rdTail"), std::string::npos) << at;
  EXPECT_NE(at.find("write '@' as %40"), std::string::npos) << at;
  EXPECT_NE(at.find("at character 19"), std::string::npos) << at;
}

TEST(RedactionTest, ValuesLibpqChecksLaterAreNotEchoed) {
  const auto mode = refusal("postgresql://db/app?sslmode=S3cr3tMode");
  EXPECT_EQ(mode.find("S3cr3tMode"), std::string::npos) << mode;
  EXPECT_NE(mode.find("invalid sslmode value"), std::string::npos) << mode;
  const auto port = refusal("postgresql://app:x@db:P0rtPw/app");
  EXPECT_EQ(port.find("P0rtPw"), std::string::npos) << port;
  const auto sqlite = refusal("sqlite://u:SqlPw99@host/x.db");
  EXPECT_EQ(sqlite.find("SqlPw99"), std::string::npos) << sqlite;
  const auto scheme = refusal("u:Sch3mePw@host://x");
  EXPECT_EQ(scheme.find("Sch3mePw"), std::string::npos) << scheme;
}

TEST(RedactionTest, SslPasswordIsRedacted) {
  EXPECT_EQ(config::redact_database_url("host=db sslpassword=K3yPass sslmode=require"),
            "host=db sslpassword=*** sslmode=require");
  EXPECT_EQ(config::redact_database_url("postgresql://db/app?sslpassword=K3yPass"),
            "postgresql://db/app?sslpassword=***");
  const auto target = config::parse_database_url("postgresql://db/app?sslpassword=K3yPass");
  EXPECT_EQ(target.ssl_password, "K3yPass");
  EXPECT_EQ(target.redacted.find("K3yPass"), std::string::npos);
}

TEST(RedactionTest, ScrubSecretsFindsPasswordsLibpqRefuses) {
  const std::string url = "postgresql://app:p@ss%zz@db/app";
  EXPECT_EQ(config::scrub_secrets("echo: " + url, url), "echo: postgresql://app:***@db/app");
  const std::string kv = "host=db password='a b c' sslpassword=Zz9 x";
  const auto scrubbed = config::scrub_secrets("echo: " + kv, kv);
  EXPECT_EQ(scrubbed.find("a b c"), std::string::npos) << scrubbed;
  EXPECT_EQ(scrubbed.find("Zz9"), std::string::npos) << scrubbed;
}

// libpq reads a backslash in a key=value string as "take the next character as it is": the
// value of `sslpassword=a\ b` goes on past the space (found by fuzz/secret_redaction_fuzz.cc).
TEST(RedactionTest, ScrubSecretsFollowsBackslashEscapesOfKeyValueStrings) {
  const std::string kv = "host=db sslpassword=\\xff)\\ sslZq7Secr3tWxmode sslmode=require";
  // ... libpq skips any white space after the '=', a line break too ...
  const std::string newline = "host=db sslpassword=\n_Zq7Secr3tWx\\\\x sslmode=require";
  ASSERT_NE(config::parse_database_url(newline).ssl_password.find("Zq7Secr3tWx"),
            std::string::npos);
  EXPECT_EQ(config::scrub_secrets("\"" + newline + "\"", newline).find("Zq7Secr3tWx"),
            std::string::npos);
  // ... a double quote is no quote there ...
  const std::string dquote = "host=db sslpassword=\"\"Zq7Secr3tWx\"\"x\\ y sslmode=require";
  ASSERT_NE(config::parse_database_url(dquote).ssl_password.find("Zq7Secr3tWx"), std::string::npos);
  EXPECT_EQ(config::scrub_secrets("\"" + dquote + "\"", dquote).find("Zq7Secr3tWx"),
            std::string::npos);
  // ... and an '&' is part of a key=value string's value (only a URL's query ends at one).
  const std::string amp = "host=db sslpassword=T\\\\=a&b\x80Zq7Secr3tWx\x80 sslmode=require";
  ASSERT_NE(config::parse_database_url(amp).ssl_password.find("Zq7Secr3tWx"), std::string::npos);
  EXPECT_EQ(config::scrub_secrets("\"" + amp + "\"", amp).find("Zq7Secr3tWx"), std::string::npos);
  const auto target = config::parse_database_url(kv);
  ASSERT_NE(target.ssl_password.find("Zq7Secr3tWx"), std::string::npos) << target.ssl_password;
  const auto scrubbed = config::scrub_secrets("cannot use \"" + kv + "\"", kv);
  EXPECT_EQ(scrubbed.find("Zq7Secr3tWx"), std::string::npos) << scrubbed;
}

// In a URL's query libpq reads a value up to the next '&': line breaks and quotes are part of
// it, and its escapes are decoded (found by fuzz/secret_redaction_fuzz.cc).
TEST(RedactionTest, ScrubSecretsReadsAQueryValueUpToTheNextAmpersand) {
  const std::string url =
      "postgresql://db/app?sslmode=require&sslpassword=a%5db\nh\n'Zq7Secr3tWx\n";
  const auto target = config::parse_database_url(url);
  ASSERT_NE(target.ssl_password.find("Zq7Secr3tWx"), std::string::npos) << target.ssl_password;
  const auto scrubbed = config::scrub_secrets("cannot use \"" + url + "\"", url);
  EXPECT_EQ(scrubbed.find("Zq7Secr3tWx"), std::string::npos) << scrubbed;
}

// libpq ends the user information at the first '@' before the first '/', so a '?' before the
// '@' is part of the password, and a percent escape there is decoded: the raw text is scrubbed
// all the same (found by fuzz/secret_redaction_fuzz.cc in CI).
TEST(RedactionTest, ScrubSecretsFindsAPasswordWithAQuestionMarkAndAnEscape) {
  const std::string url = "postgres://app:=conn\xceZq7Secr3tWx%e0?2ame7@[::1]:5432/app";
  const auto target = config::parse_database_url(url);
  ASSERT_NE(target.password.find("Zq7Secr3tWx"), std::string::npos) << target.password;
  const auto scrubbed = config::scrub_secrets("cannot use \"" + url + "\"", url);
  EXPECT_EQ(scrubbed.find("Zq7Secr3tWx"), std::string::npos) << scrubbed;
}

// The deterministic twin of fuzz/secret_redaction_fuzz.cc: a secret in every secret-bearing
// position, with each troublesome fragment at every place around it.
TEST(RedactionTest, ASecretInEveryPositionNeverComesOut) {
  const std::string secret = "Zq7Secr3tWx";
  const std::vector<std::string> forms = {
      "postgresql://app:{}@db/app",
      "postgres://app:{}@[::1]:5432/app",
      "postgresql:/app:{}@db/app",
      "postgresql://app:{}",
      "postgresql://db/app?password={}",
      "postgresql://db/app?sslmode=require&sslpassword={}",
      "host=db user=app password={}",
      "host=db user=app password='{}' dbname=app",
      "host=db sslpassword={} sslmode=require",
  };
  const std::vector<std::string> fragments = {"",           "%",
                                              "%9k",        "%zz",
                                              "%00",        "%40",
                                              "@",          "@x",
                                              "[",          "[::1",
                                              "]",          "/",
                                              ":",          "'",
                                              "\"",         " ",
                                              "?",          "&",
                                              "=",          "\\",
                                              "#",          ",",
                                              "x y",        "@h/db",
                                              "&password=", "'unterminated",
                                              "%e0?x",      "\\ x"};
  int cases = 0;
  for (const auto& form : forms) {
    for (const auto& fragment : fragments) {
      for (std::size_t cut = 0; cut <= fragment.size(); ++cut) {
        for (const bool before : {true, false}) {
          const std::string value = before ? fragment.substr(0, cut) + secret + fragment.substr(cut)
                                           : secret + fragment.substr(0, cut);
          const auto slot = form.find("{}");
          const std::string url = form.substr(0, slot) + value + form.substr(slot + 2);
          ++cases;
          SCOPED_TRACE(url);
          try {
            const auto target = config::parse_database_url(url);
            // Parsed: where libpq reads the secret as a password, it is never printed
            // (elsewhere, say as a port or database name after a stray character, it is no
            // password).
            if (target.password.find(secret) != std::string::npos ||
                target.ssl_password.find(secret) != std::string::npos) {
              EXPECT_EQ(target.redacted.find(secret), std::string::npos);
              EXPECT_EQ(config::redact_database_url(url).find(secret), std::string::npos);
              EXPECT_EQ(config::scrub_secrets("\"" + url + "\"", url).find(secret),
                        std::string::npos);
            }
          } catch (const ConfigError& e) {
            // Refused: the message names kind and position only.
            EXPECT_EQ(std::string(e.what()).find(secret), std::string::npos);
            EXPECT_EQ(config::redact_database_url(url).find(secret), std::string::npos);
          }
        }
      }
    }
  }
  EXPECT_GT(cases, 500);
}

TEST(RedactionTest, RegisteredSecretsAreScrubbedFromAnyText) {
  logging::register_secrets({"R3gist3red", "x"});
  EXPECT_EQ(logging::scrub_registered("a R3gist3red b x"), "a *** b x");  // "x": too short
}

TEST(RedactionTest, AddressesInADatabaseMessageAreMasked) {
  EXPECT_EQ(logging::mask_emails_in("Key (email)=(alice@example.com) is still referenced"),
            "Key (email)=(a***@example.com) is still referenced");
  EXPECT_EQ(logging::mask_emails_in("trigger says: bob.smith+x@mail.example.org, carol@x.io."),
            "trigger says: b***@mail.example.org, c***@x.io.");
  EXPECT_EQ(logging::mask_emails_in("\xC3\xA9lodie@example.fr"), "\xC3\xA9***@example.fr");
  // Already masked, a URL's user at a host without a dot, no address at all: unchanged.
  EXPECT_EQ(logging::mask_emails_in("j***@example.com"), "j***@example.com");
  EXPECT_EQ(logging::mask_emails_in("postgresql://app@db/app"), "postgresql://app@db/app");
  EXPECT_EQ(logging::mask_emails_in("postgresql://app@db.internal/app"),
            "postgresql://app@db.internal/app");
  EXPECT_EQ(logging::mask_emails_in("@ at @. and a@"), "@ at @. and a@");
  EXPECT_EQ(logging::maybe_mask_emails_in("alice@example.com", true), "alice@example.com");
}

TEST(RedactionTest, PushMetricsCredentialsAreNeverPrinted) {
  EXPECT_EQ(http::redact_push_url("http://user:Pu5hPw@gateway:9091/prefix"),
            "http://***@gateway:9091/prefix");
  EXPECT_EQ(http::redact_push_url("http://gateway:9091"), "http://gateway:9091");
  EXPECT_EQ(config::redact_setting("push-metrics", "http://user:Pu5hPw@gateway:9091"),
            "http://***@gateway:9091");
  http::check_push_url("http://user:Pu5hPw@gateway:9091");
  EXPECT_EQ(logging::scrub_registered("to http://user:Pu5hPw@gateway"), "to http://***@gateway");
}

TEST(RedactionTest, ConfigShowsExemptEmailsMasked) {
  EXPECT_EQ(config::redact_setting("exclude-email", "ceo@example.com, cfo@example.com"),
            "c***@example.com, c***@example.com");
}

TEST(RedactionTest, ReplicaUrlPasswordsAreNeverPrinted) {
  const std::string shown = config::redact_setting(
      "replica-url", "mysql://bc:R3plPw@replica1:3306/app, mysql://bc:Oth3rPw@replica2/app");
  EXPECT_EQ(shown.find("R3plPw"), std::string::npos) << shown;
  EXPECT_EQ(shown.find("Oth3rPw"), std::string::npos) << shown;
  EXPECT_NE(shown.find("replica2"), std::string::npos) << shown;
}

TEST(StrictInputTest, MatchAndDomainAreNormalised) {
  EXPECT_EQ(config::normalized_match("email,email"), "email");
  EXPECT_EQ(config::normalized_match("phone,email,phone"), "email,phone");
  EXPECT_EQ(config::normalized_match("none"), "none");
  EXPECT_EQ(config::normalized_exclude_domain("@example.com"), "example.com");
  EXPECT_EQ(config::normalized_exclude_domain("example.com"), "example.com");
}

}  // namespace
}  // namespace batch_cleanup
