// HTTP basic authentication against the bcrypt hashes of a --web-config-file
// (basic_auth_users), verified with libxcrypt's crypt_r ($2a$, $2b$ and $2y$ hashes).
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>

namespace batch_cleanup::http {

class BasicAuth {
 public:
  // `users`: user name -> bcrypt hash. Empty: every request is allowed.
  explicit BasicAuth(std::map<std::string, std::string> users);

  bool enabled() const { return !users_.empty(); }

  // Whether `user` and `password` match. A bcrypt verification takes tens of milliseconds (cost
  // 10): a pair that matched once is remembered (as a SHA-256 digest, never in clear), so a
  // scraper that sends the same credentials every time pays it once. An unknown user costs the
  // same as a wrong password, so that timing does not tell which users exist. Thread-safe.
  bool check(const std::string& user, const std::string& password);

 private:
  std::map<std::string, std::string> users_;
  std::mutex mutex_;
  std::set<std::string> verified_;  // SHA-256 of user, hash and password
};

}  // namespace batch_cleanup::http
