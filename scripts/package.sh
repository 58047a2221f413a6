#!/usr/bin/env bash
# Builds the Debian package: dist/batch-cleanup_<version>_<arch>.deb (CPack's DEB generator;
# its dependencies come from dpkg-shlibdeps; cmake/Packaging.cmake says what goes in it), and
# runs lintian on it, which must report no error.
#
#   scripts/package.sh                 # build/ (configured if needed), then dist/
#   BATCH_CLEANUP_DIST_DIR=/tmp/out scripts/package.sh
# Prints the path of the package on stdout (everything else goes to stderr).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BATCH_CLEANUP_BUILD_DIR:-build}
dist=${BATCH_CLEANUP_DIST_DIR:-dist}

scripts/install-deps.sh
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j2 --target batch_cleanup_cli batch_cleanup_docs batch_cleanup_deb_files >&2
rm -f "$build"/cpack/*.deb
log=$(mktemp)
trap 'rm -f "$log"' EXIT
(cd "$build" && cpack -G DEB) >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
debs=("$build"/cpack/*.deb)
[ ${#debs[@]} -eq 1 ] || { echo "expected one package in $build/cpack, got: ${debs[*]}" >&2; exit 1; }
mkdir -p "$dist"
deb="$dist/$(basename "${debs[0]}")"
cp "${debs[0]}" "$deb"
# lintian: no errors (warnings are fixed or overridden with a reason: deploy/debian/).
lintian --fail-on error,warning --pedantic --info "$deb" >&2 2> >(grep -v "running with root privileges" >&2 || true)
echo "$deb"
