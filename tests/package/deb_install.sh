#!/usr/bin/env bash
# The Debian package on a clean Debian 12: installs DEB with the dependencies it declares into a
# fresh minbase root (scripts/debian_root.sh) and, inside it (chroot):
#   - batch_cleanup --version prints the project's version; batch_cleanup demo succeeds;
#   - the conffiles, the 0600 templates, the Prometheus files of deploy/prometheus/ are there;
#   - man batch_cleanup and man 5 batch_cleanup.toml render; bash-completion loads the completion;
#     (man-db, bash-completion and systemd are installed after the checks above)
#   - systemd-analyze verify accepts the three units, and systemd-analyze security rates both
#     services 2.0 or lower;
#   - purging removes the package and its conffiles.
# usage: deb_install.sh SOURCE_DIR DEB VERSION
set -euo pipefail
source_dir=$1
deb=$2
version=$3
source "$source_dir/scripts/debian_chroot.sh"
work=$(mktemp -d /tmp/bc_deb_XXXXXX)
root=$work/root
cleanup() { root_remove "$root"; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 "$@"; }

root_make "$root"
root_enter "$root"
in_root test ! -e /usr/bin/batch_cleanup || fail "the fresh root already has batch_cleanup"
cp "$deb" "$root/tmp/"
# Only the package and what its Depends bring.
root_apt "$root" install --no-install-recommends "/tmp/$(basename "$deb")" >"$work/apt.log" 2>&1 ||
  { cat "$work/apt.log"; fail "apt-get install of the package"; }
grep -E "^(Setting up|Unpacking) " "$work/apt.log" | sed 's/^/  apt: /'

got=$(in_root batch_cleanup --version)
[ "$got" = "batch_cleanup $version" ] || fail "--version printed '$got', not 'batch_cleanup $version'"
in_root sh -c 'cd /tmp && batch_cleanup demo --rows 500' >"$work/demo.txt" 2>&1 ||
  { cat "$work/demo.txt"; fail "batch_cleanup demo"; }
grep -q "pending row" "$work/demo.txt" || { cat "$work/demo.txt"; fail "the demo's output"; }
echo "  --version: $got; demo: OK ($(wc -l <"$work/demo.txt") lines)"

conffiles=$(in_root dpkg-query -W -f='${Conffiles}' batch-cleanup | awk '{print $1}' | sort | xargs)
[ "$conffiles" = "/etc/batch_cleanup/batch_cleanup.toml /etc/batch_cleanup/env /etc/batch_cleanup/pgpass" ] ||
  fail "conffiles: $conffiles"
for secret in env pgpass; do
  mode=$(stat -c '%a %U' "$root/etc/batch_cleanup/$secret")
  [ "$mode" = "600 root" ] || fail "/etc/batch_cleanup/$secret is $mode, not 600 root"
done
for file in "$source_dir"/deploy/prometheus/*; do
  cmp -s "$file" "$root/usr/share/batch_cleanup/prometheus/$(basename "$file")" ||
    fail "/usr/share/batch_cleanup/prometheus/$(basename "$file") is not deploy/prometheus's"
done
for doc in copyright changelog.gz; do
  [ -f "$root/usr/share/doc/batch-cleanup/$doc" ] || fail "no /usr/share/doc/batch-cleanup/$doc"
done

# The test's own tools, after the package's dependencies were checked alone (systemd: the units
# the shipped ones refer to, such as sysinit.target, for systemd-analyze verify --root).
root_apt "$root" install --no-install-recommends man-db bash-completion systemd >"$work/apt2.log" 2>&1 ||
  { cat "$work/apt2.log"; fail "apt-get install man-db bash-completion systemd"; }
in_root env MANWIDTH=100 man batch_cleanup >"$work/man1.txt" 2>&1 || { cat "$work/man1.txt"; fail "man batch_cleanup"; }
grep -q "batch_cleanup - delete pending sign-ups" "$work/man1.txt" || fail "man batch_cleanup: no NAME"
grep -q -- "--database-url" "$work/man1.txt" || fail "man batch_cleanup: no --database-url"
in_root env MANWIDTH=100 man 5 batch_cleanup.toml >"$work/man5.txt" 2>&1 || fail "man 5 batch_cleanup.toml"
grep -q "\[\[job\]\]" "$work/man5.txt" || fail "man 5 batch_cleanup.toml: no [[job]]"
completion=$(in_root bash -c '. /usr/share/bash-completion/bash_completion
  _completion_loader batch_cleanup; complete -p batch_cleanup
  COMP_WORDS=(batch_cleanup --dry-r); COMP_CWORD=1; _batch_cleanup; echo "${COMPREPLY[*]}"')
[ "$completion" = "$(printf 'complete -o default -F _batch_cleanup batch_cleanup\n--dry-run')" ] ||
  fail "bash-completion in the root: $completion"
echo "  man pages and bash completion: OK"

units=(batch_cleanup.service batch_cleanup-once.service batch_cleanup-once.timer)
for unit in "${units[@]}"; do
  [ -f "$root/lib/systemd/system/$unit" ] || fail "no /lib/systemd/system/$unit"
done
# --man=no: Documentation= names man pages of the root, which the host's man(1) cannot see (they
# were checked above).
(cd "$root/lib/systemd/system" && systemd-analyze verify --man=no --root="$root" "${units[@]}") \
  >"$work/verify.txt" 2>&1 || { cat "$work/verify.txt"; fail "systemd-analyze verify"; }
[ ! -s "$work/verify.txt" ] || { cat "$work/verify.txt"; fail "systemd-analyze verify complained"; }
for unit in batch_cleanup.service batch_cleanup-once.service; do
  systemd-analyze security --offline=true --root="$root" --threshold=20 "$unit" >"$work/security.txt" 2>&1 ||
    { tail -25 "$work/security.txt"; fail "$unit: exposure above 2.0"; }
  echo "  $(tail -1 "$work/security.txt")"
done

in_root dpkg --purge batch-cleanup >/dev/null
[ ! -e "$root/usr/bin/batch_cleanup" ] && [ ! -e "$root/etc/batch_cleanup" ] ||
  fail "purge left /usr/bin/batch_cleanup or /etc/batch_cleanup"
echo "deb install OK: $(basename "$deb") ($(stat -c %s "$deb") bytes) on a fresh Debian 12 root"
