// The --web-config-file: TLS and basic authentication for the HTTP server, in the YAML format of
// Prometheus's exporter-toolkit (as node_exporter's and the Pushgateway's --web.config.file):
//
//   tls_server_config:
//     cert_file: server.crt         # or cert: <PEM>
//     key_file: server.key          # or key: <PEM>
//     client_auth_type: RequireAndVerifyClientCert   # optional, default NoClientCert
//     client_ca_file: ca.crt        # or client_ca: <PEM>; needed to verify client certificates
//     min_version: TLS12            # optional: TLS10, TLS11, TLS12 (default), TLS13
//     max_version: TLS13            # optional
//   basic_auth_users:
//     alice: $2y$10$...             # bcrypt hashes (htpasswd -nbB)
//
// The file is read once, at startup. Keys of that format batch_cleanup does not implement
// (cipher_suites, curve_preferences, client_allowed_sans, http_server_config, rate_limit, ...)
// are refused rather than ignored, so that no setting silently does nothing.
#pragma once

#include <map>
#include <optional>
#include <string>

namespace batch_cleanup::http {

// exporter-toolkit's client_auth_type (Go's tls.ClientAuthType).
enum class ClientAuth {
  kNoClientCert,
  kRequestClientCert,
  kRequireAnyClientCert,
  kVerifyClientCertIfGiven,
  kRequireAndVerifyClientCert,
};

struct TlsServerConfig {
  std::string cert_pem;  // the server's certificate chain
  std::string key_pem;   // its private key (a secret: never logged)
  std::string client_ca_pem;
  ClientAuth client_auth = ClientAuth::kNoClientCert;
  int min_version = 12;  // 10..13 for TLS 1.0..1.3
  int max_version = 13;
};

struct WebConfig {
  std::optional<TlsServerConfig> tls;
  // user name -> bcrypt hash; empty: no authentication.
  std::map<std::string, std::string> basic_auth_users;
};

// Reads and checks `path`. Throws ConfigError naming the file and the key (never a secret's
// value) when it cannot be read, is not that format, or names a file that cannot be read.
// Relative file names inside it are resolved against the file's own directory, as
// exporter-toolkit does.
WebConfig load_web_config(const std::string& path);

// The GnuTLS priority string for the versions of `tls`.
std::string gnutls_priorities(const TlsServerConfig& tls);

}  // namespace batch_cleanup::http
