# Functions to work in a Debian root made from scripts/debian_root.sh's tarball, with chroot
# (containers cannot run on the build machines). Sourced by scripts/image.sh and the package
# tests; needs root.
#
#   root_make DIR     extract the cached minbase root into DIR (a fresh copy each time)
#   root_enter DIR    mount /proc, give it the host's resolv.conf and the apt archive cache
#   root_apt DIR ...  apt-get in the root; on a failure (package lists older than the mirror)
#                     update the lists and try once more
#   root_leave DIR    undo root_enter (also safe when nothing is mounted)
#   root_remove DIR   root_leave, then delete DIR (never across a mount point)

_root_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_root_cache=${BATCH_CLEANUP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/batch_cleanup}

root_make() {
  local dir=$1 tarball
  tarball=$("$_root_repo/scripts/debian_root.sh")
  mkdir -p "$dir"
  tar -C "$dir" -xf "$tarball"
}

root_enter() {
  local dir=$1
  mountpoint -q "$dir/proc" || mount -t proc proc "$dir/proc"
  cp /etc/resolv.conf "$dir/etc/resolv.conf"
  # Downloaded packages are kept between runs (apt checks each against the signed lists).
  mkdir -p "$_root_cache/apt-archives/partial"
  mountpoint -q "$dir/var/cache/apt/archives" ||
    mount --bind "$_root_cache/apt-archives" "$dir/var/cache/apt/archives"
}

root_apt() {
  local dir=$1
  shift
  local apt=(chroot "$dir" env DEBIAN_FRONTEND=noninteractive apt-get -q -y
             -o Dpkg::Use-Pty=0 -o APT::Keep-Downloaded-Packages=true)
  "${apt[@]}" "$@" || { "${apt[@]}" update && "${apt[@]}" "$@"; }
}

root_leave() {
  local dir=$1
  for mount in "$dir/var/cache/apt/archives" "$dir/proc"; do
    if mountpoint -q "$mount"; then umount "$mount" || umount -l "$mount"; fi
  done
}

root_remove() {
  local dir=$1
  [ -d "$dir" ] || return 0
  root_leave "$dir"
  rm -rf --one-file-system "$dir"
}
