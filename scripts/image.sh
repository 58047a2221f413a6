#!/usr/bin/env bash
# Builds the OCI image dist/batch_cleanup-<version>-oci.tar (an OCI image layout in a tar,
# tagged <version>) from Debian packages only, without a registry or a container runtime: a
# minimal Debian 12 root (mmdebstrap, scripts/debian_root.sh), the .deb installed into it with
# its dependencies, a non-root user, packed by umoci.
#
#   scripts/image.sh [DEB]        # default: the package scripts/package.sh builds
#   podman load -i dist/batch_cleanup-0.1.0-oci.tar   # or skopeo copy oci-archive:... docker://...
#
# The image: entrypoint /usr/bin/batch_cleanup (default argument --help), user 65532:65532
# (batch_cleanup), working directory /var/lib/batch_cleanup (owned by that user: demo, SQLite,
# --archive-file), port 9187/tcp exposed for --http-listen 0.0.0.0:9187, OCI annotations
# (org.opencontainers.image.*) as labels and on the manifest. The root comes from a cache no
# older than BATCH_CLEANUP_ROOT_MAX_AGE_DAYS (default 7); set it to 0 for a release build.
# Prints the path of the image on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
dist=${BATCH_CLEANUP_DIST_DIR:-dist}
deb=${1:-}
[ -n "$deb" ] || deb=$(scripts/package.sh)
version=$(dpkg-deb -f "$deb" Version)
arch=$(dpkg-deb -f "$deb" Architecture)
uid=65532
home=/var/lib/batch_cleanup
created=$(date -u ${SOURCE_DATE_EPOCH:+-d @$SOURCE_DATE_EPOCH} +%Y-%m-%dT%H:%M:%SZ)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)

source scripts/debian_chroot.sh
work=$(mktemp -d /tmp/bc_image_XXXXXX)
oci=$work/oci
bundle=$work/bundle
trap 'root_remove "$bundle/rootfs"; rm -rf "$work"' EXIT

umoci init --layout "$oci"
umoci new --image "$oci:$version"
umoci unpack --image "$oci:$version" "$bundle" >/dev/null
rootfs=$bundle/rootfs
root_make "$rootfs"
root_enter "$rootfs"
cp "$deb" "$rootfs/tmp/"
root_apt "$rootfs" install --no-install-recommends "/tmp/$(basename "$deb")" >"$work/apt.log" 2>&1 ||
  { cat "$work/apt.log" >&2; exit 1; }
rm "$rootfs/tmp/$(basename "$deb")"
# 65532, as distroless "nonroot" images: above every range Debian allocates from.
chroot "$rootfs" groupadd --system -K SYS_GID_MAX="$uid" --gid "$uid" batch_cleanup
chroot "$rootfs" useradd --system -K SYS_UID_MAX="$uid" --uid "$uid" --gid "$uid" \
  --home-dir "$home" --shell /usr/sbin/nologin batch_cleanup
install -d -m 0750 -o "$uid" -g "$uid" "$rootfs$home"
# What a container does not need: package lists, downloaded packages, logs of the build.
root_leave "$rootfs"
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/debconf/*-old
find "$rootfs/var/log" -type f -delete
: >"$rootfs/etc/resolv.conf"

umoci repack --image "$oci:$version" --history.created_by "scripts/image.sh (mmdebstrap minbase + $(basename "$deb"))" "$bundle"
annotations=(
  "org.opencontainers.image.title=batch_cleanup"
  "org.opencontainers.image.description=Deletes pending sign-ups whose email already exists in the users table (PostgreSQL, SQLite)"
  "org.opencontainers.image.version=$version"
  "org.opencontainers.image.created=$created"
  "org.opencontainers.image.revision=$revision"
  "org.opencontainers.image.documentation=man:batch_cleanup(1)"
)
config=(--config.user "$uid:$uid" --config.entrypoint /usr/bin/batch_cleanup --config.cmd=--help
        --config.workingdir "$home" --config.exposedports 9187/tcp --config.stopsignal SIGTERM
        --config.env "HOME=$home" --architecture "$arch" --os linux --created "$created"
        --author "$(dpkg-deb -f "$deb" Maintainer)")
for a in "${annotations[@]}"; do config+=(--config.label "$a" --manifest.annotation "$a"); done
umoci config --image "$oci:$version" "${config[@]}"
umoci gc --layout "$oci"

mkdir -p "$dist"
image=$dist/batch_cleanup-$version-oci.tar
tar -C "$oci" -cf "$image.tmp" .
mv -f "$image.tmp" "$image"
echo "$image"
