#!/usr/bin/env bash
# Builds the OCI image from DEB with scripts/image.sh into IMAGE's directory, then checks it
# (oci_image.sh). usage: oci_image_build.sh SOURCE_DIR DEB IMAGE VERSION
set -euo pipefail
source_dir=$1
deb=$2
image=$3
version=$4
built=$(BATCH_CLEANUP_DIST_DIR=$(dirname "$image") "$source_dir/scripts/image.sh" "$deb")
[ "$built" = "$image" ] || { echo "FAIL: image.sh wrote $built, not $image" >&2; exit 1; }
exec bash "$(dirname "$0")/oci_image.sh" "$image" "$version"
