#include "http/basic_auth.h"

#include <crypt.h>
#include <gnutls/crypto.h>

#include <array>
#include <memory>

namespace batch_cleanup::http {
namespace {

// Compared against when the user does not exist: a valid bcrypt hash of cost 10.
constexpr const char* kDummyHash = "$2y$10$/yk4laM9O/hA8RgAlo7yjOTzRFK8I7HzTzflETM/A.unkzsJoUB4G";

std::string digest(const std::string& text) {
  std::array<unsigned char, 32> out{};
  gnutls_hash_fast(GNUTLS_DIG_SHA256, text.data(), text.size(), out.data());
  return std::string(out.begin(), out.end());
}

bool bcrypt_matches(const std::string& password, const std::string& hash) {
  auto data = std::make_unique<crypt_data>();
  const char* result = crypt_r(password.c_str(), hash.c_str(), data.get());
  if (result == nullptr || result[0] == '*') return false;
  const std::string computed(result);
  if (computed.size() != hash.size()) return false;
  unsigned char difference = 0;
  for (std::size_t i = 0; i < hash.size(); ++i) {
    difference |= static_cast<unsigned char>(computed[i] ^ hash[i]);
  }
  return difference == 0;
}

}  // namespace

BasicAuth::BasicAuth(std::map<std::string, std::string> users) : users_(std::move(users)) {}

bool BasicAuth::check(const std::string& user, const std::string& password) {
  const auto entry = users_.find(user);
  if (entry == users_.end()) {
    bcrypt_matches(password, kDummyHash);
    return false;
  }
  const auto key = digest(user + '\0' + entry->second + '\0' + password);
  {
    const std::lock_guard lock(mutex_);
    if (verified_.count(key) != 0) return true;
  }
  if (!bcrypt_matches(password, entry->second)) return false;
  const std::lock_guard lock(mutex_);
  verified_.insert(key);
  return true;
}

}  // namespace batch_cleanup::http
