#!/usr/bin/env bash
# Runs a package-tier script, which needs root (chroot, mounts), or skips it (exit 77, ctest's
# SKIP_RETURN_CODE) for a user who is not root.
if [ "$(id -u)" -ne 0 ]; then
  echo "skipped: $(basename "$1") needs root (chroot and mounts)"
  exit 77
fi
exec bash "$@"
