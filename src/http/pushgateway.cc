#include "http/pushgateway.h"

#include <httplib.h>

#include <cctype>
#include <optional>
#include <stdexcept>
#include <string_view>

#include "batch_cleanup/errors.h"
#include "config/database_url.h"
#include "log/mask.h"
#include "observability/prometheus.h"

namespace batch_cleanup::http {
namespace {

struct SplitUrl {
  std::string origin;  // scheme://host[:port], without user information
  std::string path;    // "" or "/prefix", without a trailing '/'
  std::optional<std::pair<std::string, std::string>> basic_auth;  // user, password (decoded)
  std::string userinfo;                                           // as written
};

std::string percent_decoded(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() &&
        std::isxdigit(static_cast<unsigned char>(text[i + 1])) != 0 &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2])) != 0) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

SplitUrl split(const std::string& url) {
  const auto scheme_end = url.find("://");
  const auto host_start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  const auto path_start = url.find('/', host_start);
  std::string authority = url.substr(
      host_start, path_start == std::string::npos ? std::string::npos : path_start - host_start);
  SplitUrl out;
  // user:password@host: the last '@' ends the user information (a password may hold one).
  if (const auto at = authority.rfind('@'); at != std::string::npos) {
    const std::string userinfo = authority.substr(0, at);
    out.userinfo = userinfo;
    const auto colon = userinfo.find(':');
    out.basic_auth.emplace(
        percent_decoded(userinfo.substr(0, colon)),
        colon == std::string::npos ? "" : percent_decoded(userinfo.substr(colon + 1)));
    authority = authority.substr(at + 1);
  }
  out.origin = url.substr(0, host_start) + authority;
  out.path = path_start == std::string::npos ? "" : url.substr(path_start);
  while (!out.path.empty() && out.path.back() == '/') out.path.pop_back();
  return out;
}

std::string base64url(const std::string& text) {
  if (text.empty()) return "=";  // the Pushgateway's spelling of an empty value
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < text.size(); i += 3) {
    const unsigned n = (static_cast<unsigned char>(text[i]) << 16) |
                       (static_cast<unsigned char>(text[i + 1]) << 8) |
                       static_cast<unsigned char>(text[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out += kAlphabet[(n >> shift) & 63];
  }
  if (i < text.size()) {
    unsigned n = static_cast<unsigned char>(text[i]) << 16;
    if (i + 1 < text.size()) n |= static_cast<unsigned char>(text[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < text.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

bool path_safe(const std::string& value) {
  return !value.empty() &&
         value.find_first_not_of(
             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
             std::string::npos;
}

}  // namespace

std::string redact_push_url(const std::string& url) { return config::redact_userinfo(url); }

std::vector<std::string> push_url_secrets(const std::string& url) {
  const auto parts = split(url);
  std::vector<std::string> out;
  if (!parts.basic_auth) return out;
  out.push_back(parts.userinfo);  // user:password as written
  if (const auto colon = parts.userinfo.find(':'); colon != std::string::npos) {
    out.push_back(parts.userinfo.substr(colon + 1));
  }
  out.push_back(parts.basic_auth->second);
  return out;
}

void check_push_url(const std::string& url) {
  logging::register_secrets(push_url_secrets(url));
  const bool http = url.rfind("http://", 0) == 0;
  const bool https = url.rfind("https://", 0) == 0;
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
  if (https) {
    throw ConfigError("invalid --push-metrics '" + redact_push_url(url) +
                      "': this build has no TLS support; use http:// (e.g. a local Pushgateway)");
  }
#endif
  const auto origin = split(url).origin;
  const auto host = http || https ? origin.substr(http ? 7 : 8) : std::string();
  if (host.empty() || host.front() == ':') {
    throw ConfigError("invalid --push-metrics '" + redact_push_url(url) +
                      "': use the Pushgateway's base URL, e.g. http://pushgateway:9091");
  }
}

std::string grouping_path(const std::string& url, const GroupingKey& key) {
  std::string path = split(url).path + "/metrics";
  for (const auto& [name, value] : key) {
    if (path_safe(value)) {
      path += "/" + name + "/" + value;
    } else {
      path += "/" + name + "@base64/" + base64url(value);
    }
  }
  return path;
}

void push_metrics(const std::string& url, const GroupingKey& key, const std::string& exposition) {
  const auto parts = split(url);
  httplib::Client client(parts.origin);
  if (parts.basic_auth) client.set_basic_auth(parts.basic_auth->first, parts.basic_auth->second);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(10, 0);
  client.set_write_timeout(10, 0);
  const auto path = grouping_path(url, key);
  const auto result = client.Put(path, exposition, observability::kPrometheusContentType);
  if (!result) {
    throw std::runtime_error("cannot push metrics to " + parts.origin + path + ": " +
                             httplib::to_string(result.error()));
  }
  if (result->status < 200 || result->status > 299) {
    throw std::runtime_error("pushing metrics to " + parts.origin + path + " failed: HTTP " +
                             std::to_string(result->status) + ": " + result->body);
  }
}

}  // namespace batch_cleanup::http
