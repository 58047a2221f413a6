#!/usr/bin/env bash
# The OCI image (scripts/image.sh), without a container runtime (none can run here): its
# metadata through skopeo inspect and umoci stat, then its root unpacked by umoci and, from it
# with chroot as the image's user and in its working directory, the entrypoint's --version and
# demo.
# usage: oci_image.sh IMAGE VERSION
set -euo pipefail
image=$1
version=$2
work=$(mktemp -d /tmp/bc_oci_XXXXXX)
trap 'rm -rf --one-file-system "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ref="oci-archive:$image:$version"

skopeo inspect "$ref" >"$work/inspect.json"
skopeo inspect --config "$ref" >"$work/config.json"
python3 - "$work/inspect.json" "$work/config.json" "$version" <<'PY'
import json, sys
inspect, config = (json.load(open(p)) for p in sys.argv[1:3])
version = sys.argv[3]
c = config["config"]
checks = {
    "user is non-root 65532:65532": c.get("User") == "65532:65532",
    "entrypoint is /usr/bin/batch_cleanup": c.get("Entrypoint") == ["/usr/bin/batch_cleanup"],
    "default argument --help": c.get("Cmd") == ["--help"],
    "working directory /var/lib/batch_cleanup": c.get("WorkingDir") == "/var/lib/batch_cleanup",
    "exposes 9187/tcp": "9187/tcp" in (c.get("ExposedPorts") or {}),
    "stops with SIGTERM": c.get("StopSignal") == "SIGTERM",
    "os linux": inspect.get("Os") == "linux",
    "one layer": len(inspect.get("Layers", [])) == 1,
}
labels = inspect.get("Labels") or {}
for key in ("title", "description", "version", "created", "revision"):
    checks[f"label org.opencontainers.image.{key}"] = bool(labels.get(f"org.opencontainers.image.{key}"))
checks["label version = " + version] = labels.get("org.opencontainers.image.version") == version
bad = [name for name, ok in checks.items() if not ok]
if bad:
    print("FAIL: image metadata:", "; ".join(bad), json.dumps(c, indent=1), file=sys.stderr)
    sys.exit(1)
print("  metadata:", ", ".join(checks))
PY

mkdir "$work/layout"
tar -C "$work/layout" -xf "$image"
umoci stat --image "$work/layout:$version" >"$work/stat.txt"
grep -q "scripts/image.sh" "$work/stat.txt" || { cat "$work/stat.txt"; fail "umoci stat: no history"; }
umoci unpack --image "$work/layout:$version" "$work/bundle" >/dev/null
rootfs=$work/bundle/rootfs
[ ! -e "$rootfs/var/lib/apt/lists/lock" ] && [ -z "$(ls -A "$rootfs/var/lib/apt/lists" 2>/dev/null | grep -v '^partial$' || true)" ] ||
  fail "the image keeps apt's package lists"
grep -q "^batch_cleanup:x:65532:65532:" "$rootfs/etc/passwd" || fail "no batch_cleanup user 65532"

# As the image would run: its user, its working directory, its entrypoint.
run() { chroot --userspec=65532:65532 "$rootfs" /usr/bin/env -i HOME=/var/lib/batch_cleanup \
          /usr/bin/env -C /var/lib/batch_cleanup /usr/bin/batch_cleanup "$@"; }
got=$(run --version)
[ "$got" = "batch_cleanup $version" ] || fail "--version printed '$got'"
run demo --rows 500 >"$work/demo.txt" 2>&1 || { cat "$work/demo.txt"; fail "demo in the image's root"; }
grep -q "pending row" "$work/demo.txt" || { cat "$work/demo.txt"; fail "the demo's output"; }
[ -f "$rootfs/var/lib/batch_cleanup/demo/batch_cleanup_demo.db" ] || fail "the demo wrote no database"
echo "image OK: $(basename "$image") ($(stat -c %s "$image") bytes): --version '$got', demo as 65532 in /var/lib/batch_cleanup"
