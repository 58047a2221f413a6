// Fuzzes the one scrubber: a fixed secret is placed in every secret-bearing position of a
// database URL or key=value string (a URL's password, ?password=, ?sslpassword=, password=,
// sslpassword=), surrounded by fuzzed text (stray '%', '@', '[', quotes, a missing slash...).
// Whatever libpq makes of it, the secret never comes out: not in the message of a refusal, and,
// where libpq reads it as a password, not in the redacted form nor in the scrubbed text of a
// message that quotes the whole input.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "batch_cleanup/errors.h"
#include "config/database_url.h"

namespace {

constexpr std::string_view kSecret = "Zq7Secr3tWx";

// The templates: {0} is where the fuzzed text around the secret goes.
constexpr std::string_view kTemplates[] = {
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

bool leaks(const std::string& text) { return text.find(kSecret) != std::string::npos; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const auto& form = kTemplates[data[0] % std::size(kTemplates)];
  const std::string_view fuzz(reinterpret_cast<const char*>(data + 2), size - 2);
  const std::size_t cut = fuzz.empty() ? 0 : data[1] % (fuzz.size() + 1);
  // The secret with fuzzed text before and after it, in the template's secret position.
  const std::string value =
      std::string(fuzz.substr(0, cut)) + std::string(kSecret) + std::string(fuzz.substr(cut));
  const auto slot = form.find("{}");
  const std::string url =
      std::string(form.substr(0, slot)) + value + std::string(form.substr(slot + 2));
  // The secret stands once, in the secret position: fuzzed text that spells it again (the
  // fuzzer learns it from the comparisons) puts it where it is no secret, say a database name.
  if (url.find(kSecret) != url.rfind(kSecret)) return 0;

  namespace config = batch_cleanup::config;
  try {
    const auto target = config::parse_database_url(url);
    // Parsed: libpq read the secret somewhere. As a password or sslpassword it is never
    // printed, nor left in a message that quotes the whole input; anywhere else (the fuzzed
    // text made it a database name) it is not a password.
    if (target.password.find(kSecret) != std::string::npos ||
        target.ssl_password.find(kSecret) != std::string::npos) {
      if (leaks(target.redacted) || leaks(config::redact_database_url(url)) ||
          leaks(config::scrub_secrets("cannot use \"" + url + "\"", url))) {
        std::abort();
      }
    }
  } catch (const batch_cleanup::ConfigError& e) {
    // A refusal names kind and position, never the input.
    if (leaks(e.what()) || leaks(config::redact_database_url(url))) std::abort();
  }
  return 0;
}
