#include "http/web_config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "batch_cleanup/errors.h"

namespace batch_cleanup::http {
namespace {

[[noreturn]] void refuse(const std::string& path, const std::string& what) {
  throw ConfigError(fmt::format("--web-config-file {}: {}", path, what));
}

std::string read_file(const std::string& config_path, const std::string& key,
                      const std::string& name) {
  std::filesystem::path file(name);
  if (file.is_relative()) file = std::filesystem::path(config_path).parent_path() / file;
  std::ifstream in(file, std::ios::binary);
  if (!in) refuse(config_path, fmt::format("{}: cannot read '{}'", key, file.string()));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The scalar at `node`; refuses anything else.
std::string scalar(const YAML::Node& node, const std::string& path, const std::string& key) {
  if (!node.IsScalar()) refuse(path, fmt::format("{}: a string is expected", key));
  return node.Scalar();
}

void refuse_unknown(const YAML::Node& map, const std::set<std::string>& known,
                    const std::string& path, const std::string& where) {
  for (const auto& entry : map) {
    const auto key = entry.first.Scalar();
    if (known.count(key) == 0) {
      refuse(path, fmt::format("{}'{}' is not supported by batch_cleanup (supported: {})", where,
                               key, fmt::join(known, ", ")));
    }
  }
}

ClientAuth client_auth(const std::string& text, const std::string& path) {
  static const std::map<std::string, ClientAuth> kinds = {
      {"NoClientCert", ClientAuth::kNoClientCert},
      {"RequestClientCert", ClientAuth::kRequestClientCert},
      {"RequireAnyClientCert", ClientAuth::kRequireAnyClientCert},
      {"VerifyClientCertIfGiven", ClientAuth::kVerifyClientCertIfGiven},
      {"RequireAndVerifyClientCert", ClientAuth::kRequireAndVerifyClientCert},
  };
  const auto kind = kinds.find(text);
  if (kind == kinds.end()) {
    refuse(path,
           "tls_server_config.client_auth_type: use NoClientCert, RequestClientCert, "
           "RequireAnyClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert");
  }
  return kind->second;
}

int tls_version(const std::string& text, const std::string& path, const std::string& key) {
  if (text == "TLS10") return 10;
  if (text == "TLS11") return 11;
  if (text == "TLS12") return 12;
  if (text == "TLS13") return 13;
  refuse(path, fmt::format("tls_server_config.{}: use TLS10, TLS11, TLS12 or TLS13", key));
}

// The PEM text of `inline_key` or of the file `file_key` (exactly one of them).
std::string pem(const YAML::Node& tls, const std::string& path, const std::string& inline_key,
                const std::string& file_key, bool required) {
  const bool has_inline = tls[inline_key].IsDefined() && !tls[inline_key].IsNull();
  const bool has_file = tls[file_key].IsDefined() && !tls[file_key].IsNull();
  if (has_inline && has_file) {
    refuse(path, fmt::format("tls_server_config: give {} or {}, not both", inline_key, file_key));
  }
  if (has_inline) return scalar(tls[inline_key], path, "tls_server_config." + inline_key);
  if (has_file) {
    const auto name = scalar(tls[file_key], path, "tls_server_config." + file_key);
    if (!name.empty()) return read_file(path, "tls_server_config." + file_key, name);
  }
  if (required) refuse(path, fmt::format("tls_server_config: {} is required", file_key));
  return "";
}

TlsServerConfig tls_config(const YAML::Node& tls, const std::string& path) {
  if (!tls.IsMap()) refuse(path, "tls_server_config: a mapping is expected");
  refuse_unknown(tls,
                 {"cert", "cert_file", "key", "key_file", "client_ca", "client_ca_file",
                  "client_auth_type", "min_version", "max_version"},
                 path, "tls_server_config: ");
  TlsServerConfig config;
  config.cert_pem = pem(tls, path, "cert", "cert_file", true);
  config.key_pem = pem(tls, path, "key", "key_file", true);
  config.client_ca_pem = pem(tls, path, "client_ca", "client_ca_file", false);
  if (tls["client_auth_type"]) {
    config.client_auth = client_auth(
        scalar(tls["client_auth_type"], path, "tls_server_config.client_auth_type"), path);
  }
  // The server asks for a client certificate only when it has CAs to name.
  if (config.client_auth != ClientAuth::kNoClientCert && config.client_ca_pem.empty()) {
    refuse(path,
           "tls_server_config: a client_auth_type other than NoClientCert needs "
           "client_ca_file");
  }
  if (tls["min_version"]) {
    config.min_version = tls_version(
        scalar(tls["min_version"], path, "tls_server_config.min_version"), path, "min_version");
  }
  if (tls["max_version"]) {
    config.max_version = tls_version(
        scalar(tls["max_version"], path, "tls_server_config.max_version"), path, "max_version");
  }
  if (config.min_version > config.max_version) {
    refuse(path, "tls_server_config: min_version is above max_version");
  }
  return config;
}

bool looks_like_bcrypt(const std::string& hash) {
  return hash.size() == 60 &&
         (hash.rfind("$2a$", 0) == 0 || hash.rfind("$2b$", 0) == 0 || hash.rfind("$2y$", 0) == 0);
}

}  // namespace

WebConfig load_web_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) refuse(path, "cannot read the file");
  YAML::Node root;
  try {
    root = YAML::Load(in);
  } catch (const YAML::Exception& error) {
    // The position only: the message may quote the file's text, and it holds secrets.
    refuse(path, fmt::format("not valid YAML (line {}, column {})", error.mark.line + 1,
                             error.mark.column + 1));
  }
  WebConfig config;
  if (root.IsNull()) return config;
  if (!root.IsMap()) refuse(path, "a mapping (tls_server_config, basic_auth_users) is expected");
  refuse_unknown(root, {"tls_server_config", "basic_auth_users"}, path, "");
  if (root["tls_server_config"] && !root["tls_server_config"].IsNull()) {
    config.tls = tls_config(root["tls_server_config"], path);
  }
  if (const auto users = root["basic_auth_users"]; users && !users.IsNull()) {
    if (!users.IsMap()) refuse(path, "basic_auth_users: a mapping of user: bcrypt hash");
    for (const auto& entry : users) {
      const auto name = entry.first.Scalar();
      if (name.empty() || name.find(':') != std::string::npos) {
        refuse(path, "basic_auth_users: a user name must be non-empty and hold no ':'");
      }
      if (!entry.second.IsScalar() || !looks_like_bcrypt(entry.second.Scalar())) {
        refuse(path, fmt::format("basic_auth_users: the password of '{}' is not a bcrypt hash "
                                 "($2y$..., e.g. from htpasswd -nbB)",
                                 name));
      }
      config.basic_auth_users[name] = entry.second.Scalar();
    }
  }
  return config;
}

std::string gnutls_priorities(const TlsServerConfig& tls) {
  std::string text = "NORMAL:-VERS-ALL";
  for (int version = tls.min_version; version <= tls.max_version; ++version) {
    text += version == 10 ? ":+VERS-TLS1.0" : fmt::format(":+VERS-TLS1.{}", version - 10);
  }
  return text;
}

}  // namespace batch_cleanup::http
