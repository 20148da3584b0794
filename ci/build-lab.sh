#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Build (or reuse from the cache) everything a lab cluster needs:
#   QEMU with the pex8749 devices, the guest image, Linux's NTB modules, our
#   driver and the socket family module (af_ntb), and the guests' module
#   tree: Debian's modules plus ours, depmod'ed, which each guest binds over
#   /lib/modules (kernel parameter ntblab.modroot=) so that modprobe works there.
# Every step caches under ${NTBLAB_CACHE:-/var/cache/ntblab} and skips what is
# up to date. Progress goes to stderr; stdout gets NAME=VALUE lines for
# ./ntblab to export (NTBLAB_QEMU, NTBLAB_IMAGE, NTBLAB_MODROOT, NTBLAB_KREL).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${NTBLAB_CACHE:-/var/cache/ntblab}
say() { printf '[ntblab] %s\n' "$*" >&2; }
quiet() {  # run a step; on failure show its output
    local log
    log=$(mktemp)
    if ! "$@" >"$log.out" 2>"$log"; then
        cat "$log.out" "$log" >&2
        rm -f "$log" "$log.out"
        return 1
    fi
    tail -n1 "$log.out"
    rm -f "$log" "$log.out"
}

say "lab: QEMU with the pex8749 devices"
qemu=$(quiet "$root/qemu-device/build-qemu.sh")
say "lab: guest image (Debian kernel + initramfs)"
image=$(quiet "$root/guest/build-guest.sh")
rel=$(cat "$cache/guest/kernel.release")
say "lab: NTB modules for $rel"
mods=$(quiet "$root/driver/build.sh" --rel "$rel")
say "lab: socket family module"
quiet "$root/sockets/build.sh" --out "$mods" >/dev/null

# The guests' module tree: hard links to Debian's modules, ours in updates/.
ktree="$cache/guest/kernel/$rel/root/lib/modules/$rel"
modroot="$cache/guest/modroot"
key=$(cd "$mods" && sha256sum -- *.ko | sha256sum | cut -c1-32)-$rel
if [ "$(cat "$modroot/key" 2>/dev/null)" != "$key" ]; then
    say "lab: guest module tree (depmod)"
    rm -rf "$modroot.tmp"
    mkdir -p "$modroot.tmp/lib/modules"
    cp -al "$ktree" "$modroot.tmp/lib/modules/$rel"
    mkdir -p "$modroot.tmp/lib/modules/$rel/updates/ntblab"
    cp "$mods"/*.ko "$modroot.tmp/lib/modules/$rel/updates/ntblab/"
    depmod -b "$modroot.tmp" "$rel"
    echo "$key" >"$modroot.tmp/key"
    rm -rf "$modroot"
    mv "$modroot.tmp" "$modroot"
fi

echo "NTBLAB_QEMU=$qemu"
echo "NTBLAB_IMAGE=$image"
echo "NTBLAB_MODROOT=$modroot"
echo "NTBLAB_KREL=$rel"
