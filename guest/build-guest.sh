#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# ntblab: build the guest image: Debian's own kernel (extracted, never
# installed on the host) and a busybox initramfs with the ntblab agent.
#
# Usage: guest/build-guest.sh [--force] [EXTRA.ko ...]
#   EXTRA.ko   modules to carry in /lib/ntblab/ (the guest's /init loads them)
# Environment:
#   NTBLAB_CACHE            cache root (default /var/cache/ntblab)
#   NTBLAB_KERNEL_RELEASE   e.g. 6.1.0-56-amd64 (default: what Debian's
#                           linux-image-amd64 depends on now)
# Output: progress on stderr; on stdout "guest: reused ..." or
# "guest: rebuilt ...", "kernel.release=...", "kdir=..." and last the image
# directory (vmlinuz, vmlinux, initramfs.cpio.gz, kernel.release).
#
# Cache ($NTBLAB_CACHE/guest):
#   debs/                              downloaded .deb files
#   kernel/RELEASE/root/               image + headers + kbuild, extracted
#   kernel.release                     the release the current image uses
#   kdir -> kernel/RELEASE/root/usr/src/linux-headers-RELEASE
#                                      for `make -C $(cat kdir) M=... modules`
#   busybox/                           busybox-static, extracted
#   image/{vmlinuz,vmlinux,initramfs.cpio.gz,kernel.release,key}
#                                      (vmlinux: uncompressed, for PVH boot)
# The image key is: kernel release + sha256 of guest/init, guest/agent/,
# guest/lib/fd_io.h (the agent includes it), guest/modules.txt, this script, common.sh, the busybox .deb and the extra
# modules.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=qemu-device/common.sh
. "$here/../qemu-device/common.sh"

force=0
extra=()
for a in "$@"; do
    case "$a" in
        --force) force=1 ;;
        -*) die "usage: $0 [--force] [EXTRA.ko ...]" ;;
        *) [ -f "$a" ] || die "no such module: $a"
           extra+=("$(realpath "$a")") ;;
    esac
done

G="$NTBLAB_CACHE/guest"
mkdir -p "$G/debs" "$G/kernel"
exec 9>"$G/lock"
flock 9

apt_ensure kmod cpio gzip gcc libc6-dev python3

# --- 1. kernel release --------------------------------------------------
kernel_dep() {
    apt-cache depends linux-image-amd64 2>/dev/null \
        | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'
}
release="${NTBLAB_KERNEL_RELEASE:-}"
if [ -z "$release" ]; then
    pkg="$(kernel_dep)"
    [ -n "$pkg" ] || { apt_update_once; pkg="$(kernel_dep)"; }
    [ -n "$pkg" ] || die "apt does not know linux-image-amd64"
    release="${pkg#linux-image-}"
fi
K="$G/kernel/$release"

# find_deb NAME VERSION: the .deb in $G/debs, if there (apt-get download
# writes the epoch colon as %3a).
find_deb() {
    find "$G/debs" -maxdepth 1 \( -name "${1}_${2#*:}_*.deb" -o -name "${1}_${2/:/%3a}_*.deb" \) \
        -print -quit
}

# download_debs PKG=VER...: into $G/debs unless already there; prints paths.
download_debs() {
    local spec name ver f
    for spec in "$@"; do
        name="${spec%%=*}" ver="${spec#*=}"
        f="$(find_deb "$name" "$ver")"
        if [ -z "$f" ]; then
            log "downloading $name=$ver"
            (cd "$G/debs" && apt-get download -qq "$name=$ver" >&2) \
                || die "apt-get download $name=$ver failed"
            f="$(find_deb "$name" "$ver")"
            [ -n "$f" ] || die "downloaded $name=$ver but cannot find its .deb"
        fi
        printf '%s\n' "$f"
    done
}

if [ ! -f "$K/.complete" ]; then
    kver="$(apt_max_version "linux-image-$release" binary)"
    [ -n "$kver" ] || { apt_update_once; kver="$(apt_max_version "linux-image-$release" binary)"; }
    [ -n "$kver" ] || die "apt does not know linux-image-$release"
    series="$(echo "$release" | cut -d. -f1,2)"             # 6.1
    abi="${release%-*}"                                     # 6.1.0-56
    mapfile -t debs < <(download_debs "linux-image-$release=$kver" \
        "linux-headers-$release=$kver" "linux-headers-$abi-common=$kver" \
        "linux-kbuild-$series=$kver")
    [ "${#debs[@]}" -eq 4 ] || die "kernel packages missing"
    rm -rf "$K"
    mkdir -p "$K/root"
    for d in "${debs[@]}"; do
        log "extracting ${d##*/}"
        dpkg-deb -x "$d" "$K/root"
    done
    # Make the extracted tree self-contained: absolute links and includes
    # point into the host's /usr/src, which need not exist.
    hdr="$K/root/usr/src/linux-headers-$release"
    sed -i "s|^include /usr/src/|include $K/root/usr/src/|" "$hdr/Makefile"
    ln -sfn "../../../usr/src/linux-headers-$release" "$K/root/lib/modules/$release/build"
    ln -sfn "../../../usr/src/linux-headers-$abi-common" "$K/root/lib/modules/$release/source"
    depmod -b "$K/root" "$release"
    printf '%s\n' "$kver" > "$K/debian-version"
    touch "$K/.complete"
fi
printf '%s\n' "$release" > "$G/kernel.release.tmp" && mv -f "$G/kernel.release.tmp" "$G/kernel.release"
ln -sfn "kernel/$release/root/usr/src/linux-headers-$release" "$G/kdir"

# --- 2. busybox ----------------------------------------------------------
bbver="$(apt_max_version busybox-static binary)"
[ -n "$bbver" ] || { apt_update_once; bbver="$(apt_max_version busybox-static binary)"; }
bbdeb="$(download_debs "busybox-static=$bbver")"
[ -n "$bbdeb" ] || die "busybox-static missing"
if [ "$(cat "$G/busybox/.deb" 2>/dev/null)" != "${bbdeb##*/}" ]; then
    rm -rf "$G/busybox"
    dpkg-deb -x "$bbdeb" "$G/busybox"
    printf '%s\n' "${bbdeb##*/}" > "$G/busybox/.deb"
fi

# --- 3. image --------------------------------------------------------------
src_hash="$(hash_paths "$here/init" "$here/agent" "$here/lib/fd_io.h" "$here/modules.txt" \
    "$here/build-guest.sh" "$here/../qemu-device/common.sh" "$bbdeb" \
    ${extra[@]+"${extra[@]}"})"
key="release=$release src=$src_hash"
img="$G/image"
if [ "$force" = 0 ] && [ "$(cat "$img/key" 2>/dev/null)" = "$key" ]; then
    echo "guest: reused $img (kernel $release, sources ${src_hash:0:12})"
else
    start=$(date +%s)
    stage="$G/image.tmp"
    rm -rf "$stage"
    r="$stage/root"
    mkdir -p "$r"/{bin,sbin,etc/ntblab,proc,sys,dev,tmp,run,host,lib/ntblab,usr/bin,usr/sbin}

    install -m 0755 "$G/busybox/bin/busybox" "$r/bin/busybox"
    for app in $("$r/bin/busybox" --list-full); do
        [ -e "$r/$app" ] || ln -s /bin/busybox "$r/$app"
    done
    install -m 0755 "$here/init" "$r/init"

    log "compiling the agent"
    gcc -static -O2 -Wall -o "$r/sbin/ntblab-agent" "$here/agent/ntblab-agent.c"
    strip "$r/sbin/ntblab-agent"

    # Modules in guest/modules.txt and their dependencies, in load order.
    mapfile -t wanted < <(read_list "$here/modules.txt")
    python3 - "$K/root/lib/modules/$release" "${wanted[@]}" \
        > "$r/etc/ntblab/modules.load" <<'EOF'
import os, sys
moddir, wanted = sys.argv[1], sys.argv[2:]
deps, byname = {}, {}
for line in open(os.path.join(moddir, "modules.dep")):
    path, _, rest = line.partition(":")
    deps[path] = rest.split()
    byname[os.path.basename(path)[:-3].replace("-", "_")] = path
order, seen = [], set()
def visit(p):
    if p in seen:
        return
    seen.add(p)
    for d in deps[p]:
        visit(d)
    order.append(p)
builtin = open(os.path.join(moddir, "modules.builtin")).read()
for w in wanted:
    n = w.replace("-", "_")
    if n in byname:
        visit(byname[n])
    elif "/" + w + ".ko" not in builtin and "/" + n + ".ko" not in builtin:
        sys.exit("build-guest: no module " + w)
print("\n".join(order))
EOF
    while read -r m; do
        mkdir -p "$r/lib/modules/$release/$(dirname "$m")"
        cp "$K/root/lib/modules/$release/$m" "$r/lib/modules/$release/$m"
    done < "$r/etc/ntblab/modules.load"
    for ko in ${extra[@]+"${extra[@]}"}; do
        install -m 0644 "$ko" "$r/lib/ntblab/${ko##*/}"
    done

    (cd "$r" && find . -print0 | LC_ALL=C sort -z \
        | cpio --null -o -H newc --owner=0:0 --quiet) | gzip -1 > "$stage/initramfs.cpio.gz"
    cp "$K/root/boot/vmlinuz-$release" "$stage/vmlinuz"
    # The uncompressed ELF kernel: QEMU boots it through its PVH entry
    # (CONFIG_PVH=y), which skips the xz decompression that costs ~2.5 s
    # of a ~5 s boot under TCG.
    python3 - "$stage/vmlinuz" "$stage/vmlinux" <<'EOF2'
import lzma, sys
data = open(sys.argv[1], "rb").read()
pos = data.find(b"\xfd7zXZ\x00")
if pos < 0:
    sys.exit("build-guest: vmlinuz is not xz-compressed")
elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[pos:])
if elf[:4] != b"\x7fELF":
    sys.exit("build-guest: no ELF kernel inside vmlinuz")
open(sys.argv[2], "wb").write(elf)
EOF2
    printf '%s\n' "$release" > "$stage/kernel.release"
    rm -rf "$r"
    printf '%s\n' "$key" > "$stage/key"
    rm -rf "$img"
    mv "$stage" "$img"
    echo "guest: rebuilt $img in $(( $(date +%s) - start )) s (kernel $release, sources ${src_hash:0:12}, $(du -h "$img/initramfs.cpio.gz" | cut -f1) initramfs)"
fi
echo "kernel.release=$release"
echo "kdir=$G/kdir"
echo "$img"
