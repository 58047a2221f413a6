#!/usr/bin/env bash
# A minimal Debian 12 root (mmdebstrap --variant=minbase: essential packages and apt, nothing of
# batch_cleanup's), as a tarball cached outside the repository, for the package tests and the
# OCI image. Prints its path.
#
# The cache is keyed by the recipe below (suite, architecture, variant, mirrors): a changed
# recipe makes a new tarball. A tarball older than BATCH_CLEANUP_ROOT_MAX_AGE_DAYS (default 7)
# is made again, so the root does not fall far behind Debian's point releases and security
# updates. A tarball is written once, under a lock, and never changed: users extract a copy.
#   BATCH_CLEANUP_CACHE_DIR (default ${XDG_CACHE_HOME:-~/.cache}/batch_cleanup)
#   BATCH_CLEANUP_DEBIAN_MIRROR (default http://deb.debian.org)
set -euo pipefail
cache=${BATCH_CLEANUP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/batch_cleanup}
max_age_days=${BATCH_CLEANUP_ROOT_MAX_AGE_DAYS:-7}
mirror=${BATCH_CLEANUP_DEBIAN_MIRROR:-http://deb.debian.org}
suite=bookworm
arch=$(dpkg --print-architecture)
sources=("deb $mirror/debian $suite main" "deb $mirror/debian $suite-updates main"
         "deb $mirror/debian-security $suite-security main")
# Apt's package lists stay in the root, so that a test can install into it without
# downloading them first.
options=(--variant=minbase --architectures="$arch" --skip=cleanup/apt/lists --format=tar)
key=$(printf '%s\n' 1 "$suite" "${options[@]}" "${sources[@]}" | sha256sum | cut -c1-16)
tarball=$cache/debian-$suite-$arch-minbase-$key.tar

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ -f "$tarball" ] && [ -z "$(find "$tarball" -mtime +"$max_age_days")" ]; then
  echo "$tarball"
  exit 0
fi
echo "making a Debian $suite root with mmdebstrap: $tarball" >&2
tmp=$(mktemp "$tarball.XXXXXX")
trap 'rm -f "$tmp"' EXIT
mmdebstrap --quiet "${options[@]}" "$suite" "$tmp" "${sources[@]}" >&2
mv -f "$tmp" "$tarball"
trap - EXIT
# Older recipes' and older roots are not used again.
find "$cache" -maxdepth 1 -name "debian-$suite-$arch-minbase-*.tar" ! -path "$tarball" -delete
echo "$tarball"
