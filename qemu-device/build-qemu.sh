#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# ntblab: build a minimal qemu-system-x86_64 (QEMU 7.2 from Debian's source
# package) with our pex8749-nt device compiled in.
#
# Usage: qemu-device/build-qemu.sh [--force]
#   --force   rebuild (incrementally) even if the cached binary matches.
# Environment:
#   NTBLAB_CACHE          cache root (default /var/cache/ntblab)
#   NTBLAB_QEMU_VERSION   Debian source version to build (default: the highest
#                         version apt knows, e.g. 1:7.2+dfsg-7+deb12u18)
#   NTBLAB_JOBS           parallel compile jobs (default: nproc)
# Output: progress on stderr; on stdout one line "qemu: reused ..." or
# "qemu: rebuilt ...", and last the absolute path of the binary.
#
# Cache ($NTBLAB_CACHE/qemu):
#   src/           Debian source package files and unpacked trees
#   build/         the meson build tree (kept: rebuilds are incremental)
#   bin/qemu-system-x86_64, bin/key   the binary and the key it was built for
#   build.log      configure and compile output of the last build
# The key is: source version + configure flags + sha256 of qemu-device/src/*,
# qemu-device/patches/*, this script, common.sh, ntblab-devices.mak and the
# node-link protocol header (protocol/include/ntblab/node_link.h).
#
# Patches (qemu-device/patches/*.patch, applied in name order with patch -p1):
# changes to QEMU itself, each written for the lab and explained in its own
# header and in docs/guest-and-qemu.md. The unpacked tree records which set of
# patches it carries; another set unpacks the tree afresh.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=qemu-device/common.sh
. "$here/common.sh"

force=0
case "${1:-}" in
    --force) force=1 ;;
    "") ;;
    *) die "usage: $0 [--force]" ;;
esac

Q="$NTBLAB_CACHE/qemu"
mkdir -p "$Q/src" "$Q/bin"
exec 9>"$Q/lock"
flock 9

# --- 1. deb-src and packages ---------------------------------------------
debsrc_file=/etc/apt/sources.list.d/ntblab-deb-src.sources
if ! grep -rqsE '^[[:space:]]*(deb-src[[:space:]].*bookworm|Types:.*deb-src)' \
        /etc/apt/sources.list /etc/apt/sources.list.d/; then
    log "enabling deb-src for bookworm in $debsrc_file"
    cat > "$debsrc_file" <<'EOF'
# Added by ntblab qemu-device/build-qemu.sh: Debian source packages (QEMU).
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    apt_update_once
fi

mapfile -t pkgs < <(read_list "$here/packages.txt")
apt_ensure "${pkgs[@]}"

version="${NTBLAB_QEMU_VERSION:-$(apt_max_version qemu source)}"
if [ -z "$version" ]; then
    apt_update_once
    version="$(apt_max_version qemu source)"
fi
[ -n "$version" ] || die "apt knows no qemu source package (is deb-src enabled?)"
upstream="${version#*:}"                # drop the epoch
tree="$Q/src/qemu-$upstream"

# --- 2. configure flags and cache key --------------------------------------
flags=(
    --target-list=x86_64-softmmu
    --without-default-features
    --without-default-devices
    --with-devices-x86_64=ntblab        # qemu-device/ntblab-devices.mak
    --enable-tcg                        # the lab's accelerator (decision 2)
    --enable-kvm                        # optional, for workstations
    --enable-virtfs                     # virtio-9p: the host's / in the guest
    --enable-cap-ng                     # needed by virtfs
    --enable-attr                       # needed by virtfs (glibc's xattr)
    --disable-install-blobs             # dfsg source has no edk2 blobs
    --disable-docs
    --disable-werror
)
flags_str="$(printf '%s ' "${flags[@]}")"
# The node-link protocol header is shared with the switch process; both
# include it as "ntblab/node_link.h".
proto="$here/../protocol/include/ntblab/node_link.h"
patches_hash="$(hash_paths "$here/patches")"
src_hash="$(hash_paths "$here/src" "$here/patches" "$here/build-qemu.sh" "$here/common.sh" \
    "$here/ntblab-devices.mak" "$proto")"
key="version=$version flags=$flags_str src=$src_hash"
bin="$Q/bin/qemu-system-x86_64"

if [ "$force" = 0 ] && [ -x "$bin" ] && [ "$(cat "$Q/bin/key" 2>/dev/null)" = "$key" ]; then
    echo "qemu: reused $bin (QEMU $version, device sources ${src_hash:0:12})"
    echo "$bin"
    exit 0
fi

start=$(date +%s)

# --- 3. source tree ---------------------------------------------------------
if [ -f "$tree/.ntblab-unpacked" ] &&
   [ "$(cat "$tree/.ntblab-patches" 2>/dev/null)" != "$patches_hash" ]; then
    log "the tree carries another set of patches: unpacking it afresh"
    rm -f "$tree/.ntblab-unpacked"
fi
if [ ! -f "$tree/.ntblab-unpacked" ]; then
    log "fetching Debian source qemu=$version"
    (cd "$Q/src" && apt-get source -qq --download-only "qemu=$version" >&2)
    dsc="$Q/src/qemu_${upstream}.dsc"
    [ -f "$dsc" ] || die "missing $dsc"
    rm -rf "$tree"
    log "unpacking into $tree"
    dpkg-source -x "$dsc" "$tree" >&2
    for p in "$here"/patches/*.patch; do
        [ -e "$p" ] || continue
        log "applying ${p##*/}"
        patch -d "$tree" -p1 -s -f --no-backup-if-mismatch < "$p" >&2 \
            || die "${p##*/} does not apply to QEMU $version"
    done
    printf '%s\n' "$patches_hash" > "$tree/.ntblab-patches"
    touch "$tree/.ntblab-unpacked"
fi

# --- 4. our device and configuration into the tree (idempotent) ------------
# Debian's edk2 step: with bzip2 installed, meson would unpack edk2 blobs that
# the dfsg tarball does not have.  Tie it to --{en,dis}able-install-blobs.
edk2_old="    unpack_edk2_blobs = bzip2.found()"
edk2_new="    unpack_edk2_blobs = bzip2.found() and get_option('install_blobs')"
if grep -qxF "$edk2_old" "$tree/meson.build"; then
    python3 - "$tree/meson.build" "$edk2_old" "$edk2_new" <<'EOF'
import sys
p, old, new = sys.argv[1:]
s = open(p).read()
open(p, "w").write(s.replace(old + "\n", new + "\n", 1))
EOF
fi
grep -qxF "$edk2_new" "$tree/meson.build" || die "cannot switch off edk2 blobs in meson.build"

# install_if_changed SRC DST: copy only when different (keeps mtimes, so the
# rebuild stays incremental).
install_if_changed() {
    cmp -s "$1" "$2" 2>/dev/null || install -m 0644 "$1" "$2"
}

# replace_block FILE TEXT: keep exactly one '# ntblab begin/end' block in FILE.
replace_block() {
    python3 - "$1" "$2" <<'EOF'
import re, sys
path, text = sys.argv[1:]
s = open(path).read()
block = "# ntblab begin (qemu-device/build-qemu.sh)\n" + text + "# ntblab end\n"
new = re.sub(r"# ntblab begin.*?# ntblab end\n", lambda m: block, s, flags=re.S)
if new == s and block not in s:
    new = s + ("" if s.endswith("\n") else "\n") + "\n" + block
if new != s:
    open(path, "w").write(new)
EOF
}

install_if_changed "$here/ntblab-devices.mak" \
    "$tree/configs/devices/x86_64-softmmu/ntblab.mak"
mkdir -p "$tree/hw/misc/ntblab"
install_if_changed "$proto" "$tree/hw/misc/ntblab/node_link.h"
rm -f "$tree/hw/misc/ntblab_node_link.h"   # where builds before protocol/ put it
dev_files=()
for f in "$here"/src/*; do
    install_if_changed "$f" "$tree/hw/misc/${f##*/}"
    case "$f" in *.c) dev_files+=("'${f##*/}'") ;; esac
done
replace_block "$tree/hw/misc/meson.build" \
"softmmu_ss.add(when: 'CONFIG_PEX8749_NT', if_true: files($(IFS=,; echo "${dev_files[*]}")))
"
replace_block "$tree/hw/misc/Kconfig" \
"config PEX8749_NT
    bool
    depends on PCI_EXPRESS
"

# --- 5. configure (only when the tree or the flags changed) and build ------
build="$Q/build"
config_key="tree=$tree flags=$flags_str"
: > "$Q/build.log"
if [ "$(cat "$build/.ntblab-config" 2>/dev/null)" != "$config_key" ]; then
    log "configuring in $build"
    rm -rf "$build"
    mkdir -p "$build"
    if ! (cd "$build" && "$tree/configure" --prefix="$Q/install" "${flags[@]}") \
            >> "$Q/build.log" 2>&1; then
        tail -n 40 "$Q/build.log" >&2
        die "configure failed (full log: $Q/build.log)"
    fi
    printf '%s\n' "$config_key" > "$build/.ntblab-config"
fi

log "compiling (log: $Q/build.log)"
if ! ninja -C "$build" -j "${NTBLAB_JOBS:-$(nproc)}" qemu-system-x86_64 \
        >> "$Q/build.log" 2>&1; then
    grep -E 'error|Error' "$Q/build.log" | tail -n 20 >&2 || true
    tail -n 20 "$Q/build.log" >&2
    die "build failed (full log: $Q/build.log)"
fi

for dev in pex8749-nt pex8749-dma; do
    "$build/qemu-system-x86_64" -device help 2>/dev/null | grep -q "\"$dev\"" \
        || die "built binary lacks the $dev device"
done

install -m 0755 "$build/qemu-system-x86_64" "$bin.tmp"
mv -f "$bin.tmp" "$bin"
printf '%s\n' "$key" > "$Q/bin/key"

echo "qemu: rebuilt $bin in $(( $(date +%s) - start )) s (QEMU $version, device sources ${src_hash:0:12})"
echo "$bin"
