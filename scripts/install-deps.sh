#!/usr/bin/env bash
# Installs the Debian packages batch_cleanup needs to build and test, when some are missing.
# Idempotent; needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git python3
  # the package tier: .deb (CPack, dpkg-shlibdeps, lintian), man pages and completions, a Debian
  # 12 root (mmdebstrap), the OCI image (umoci, skopeo), units, manifests (yamllint)
  file lintian man-db zsh bash-completion mmdebstrap mount umoci skopeo yamllint python3-yaml systemd
  # sqlite3: the README's worked example (package.readme_example)
  sqlite3 libpq-dev libsqlite3-dev libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcpp-httplib-dev libtomlplusplus-dev
  # the HTTP server: libmicrohttpd, GnuTLS, the --web-config-file (YAML, bcrypt via libxcrypt);
  # htpasswd (apache2-utils) makes the tests' bcrypt hashes
  libmicrohttpd-dev libgnutls28-dev libyaml-cpp-dev libcrypt-dev apache2-utils
  postgresql postgresql-client openssl
  # the MariaDB tier: a server the tests start themselves (scripts/mariadb_test_server.sh) and
  # the Connector/C the MySQL/MariaDB store is built on
  mariadb-server libmariadb-dev
  # the Galera tier: a 3-node cluster of that server (scripts/galera_test_cluster.sh); rsync is
  # the snapshot transfer a node that was down may need
  galera-4 rsync
  # the fault tier: a real connection pooler
  pgbouncer
  chromium
  prometheus prometheus-pushgateway prometheus-node-exporter
  clang libclang-rt-14-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing missing packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# Debian's prometheus, prometheus-pushgateway, prometheus-node-exporter, pgbouncer, postgresql and mariadb-server packages
# start system services when installed. The tests start their own processes on loopback ports and
# never use those, so no service may start during the install: policy-rc.d exit 101 forbids it
# (invoke-rc.d(8)), unless the machine already has a policy of its own.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# batch_cleanup install-deps.sh: no service starts during this install\nexit 101\n' |
    $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
  trap '$sudo rm -f "$policy"' EXIT
fi
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Under systemd the packages also enable their units for the next boot: disable those (the
# test suite's Prometheus, Pushgateway and node_exporter are processes of its own).
if [ -d /run/systemd/system ]; then
  $sudo systemctl disable --now prometheus.service prometheus-pushgateway.service \
    prometheus-node-exporter.service pgbouncer.service >/dev/null 2>&1 || true
fi
