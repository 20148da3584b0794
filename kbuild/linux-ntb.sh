#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build Linux's own NTB core and clients as external modules for the guest
# kernel (Debian's linux-image-amd64, whose config has CONFIG_NTB off):
#
#   ntb.ko            drivers/ntb/core.c        (msi.c left out: CONFIG_NTB_MSI off)
#   ntb_transport.ko  drivers/ntb/ntb_transport.c
#   ntb_tool.ko       drivers/ntb/test/ntb_tool.c
#   ntb_perf.ko       drivers/ntb/test/ntb_perf.c
#   ntb_pingpong.ko   drivers/ntb/test/ntb_pingpong.c
#   ntb_netdev.ko     drivers/net/ntb_netdev.c
#   plx_dma.ko        drivers/dma/plx_dma.c (+ drivers/dma/dmaengine.h)
#
# The sources come from Debian's linux-source-6.1 package at build time and are
# extracted under $NTBLAB_CACHE, never into this repository.
#
# usage: kbuild/linux-ntb.sh [--out DIR] [--rel REL] [--force] [--w1]
#   --out DIR  where the .ko files and Module.symvers go
#              (default ${NTBLAB_CACHE:-/var/cache/ntblab}/modules/REL)
#   --rel REL  kernel release (default: the one linux-image-amd64 depends on)
#   --force    rebuild even if the inputs did not change
#   --w1       build with W=1
# Prints the output directory on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/ksrc.sh
. "$here/ksrc.sh"

ntblab_build_args "" "$@"

[ -n "$rel" ] || rel=$(ntblab_rel)
[ -n "$out" ] || out=$NTBLAB_CACHE/modules/$rel
kdir=/usr/src/linux-headers-$rel

ntblab_need_pkgs "linux-headers-$rel" "$NTBLAB_KSRC_PKG" build-essential kmod xz-utils
[ -f "$kdir/Makefile" ] || ntblab_die "no kernel headers in $kdir"

files="drivers/ntb/core.c drivers/ntb/ntb_transport.c
drivers/ntb/test/ntb_tool.c drivers/ntb/test/ntb_perf.c drivers/ntb/test/ntb_pingpong.c
drivers/net/ntb_netdev.c drivers/dma/plx_dma.c drivers/dma/dmaengine.h"
mods="ntb ntb_transport ntb_tool ntb_perf ntb_pingpong ntb_netdev plx_dma"

# Everything the result depends on: this script, the helper, the package
# versions of source and headers, and the compiler.
inputs=$( {
	cat "$0" "$here/ksrc.sh"
	echo "rel=$rel w1=$w1"
	ntblab_pkg_version "$NTBLAB_KSRC_PKG"
	ntblab_pkg_version "linux-headers-$rel"
	gcc --version | head -n1
} | sha256sum | cut -d' ' -f1)

# Not built, but wanted beside the modules: Linux's NTB selftest, which the
# lab's conformance suite (tests/ntb/) runs unmodified from $src.
ntblab_ksrc_extract "$(ntblab_ksrc_dir)" tools/testing/selftests/ntb/ntb_test.sh

if [ "$force" = 0 ] && [ "$(cat "$out/.linux-ntb.inputs" 2>/dev/null)" = "$inputs" ]; then
	ok=1
	for m in $mods; do [ -f "$out/$m.ko" ] || ok=0; done
	if [ "$ok" = 1 ]; then
		ntblab_log "up to date: $out"
		echo "$out"
		exit 0
	fi
fi

src=$(ntblab_ksrc_dir)
# shellcheck disable=SC2086
ntblab_ksrc_extract "$src" $files

bdir=$NTBLAB_CACHE/build/linux-ntb-$rel
rm -rf "$bdir"
mkdir -p "$bdir"
for f in $files; do
	mkdir -p "$bdir/$(dirname "$f")"
	cp "$src/linux-source-6.1/$f" "$bdir/$f"
done

# Kbuild files.  The sources test no CONFIG_ symbol of their own except
# CONFIG_NTB_MSI (left undefined: ntb.h then provides the MSI stubs), so no
# -DCONFIG_* is needed; the kernel's own headers take theirs from autoconf.h.
cat >"$bdir/Kbuild" <<'KB'
obj-m += drivers/ntb/ drivers/net/ drivers/dma/
KB
cat >"$bdir/drivers/ntb/Kbuild" <<'KB'
obj-m += ntb.o ntb_transport.o test/
ntb-y := core.o
KB
cat >"$bdir/drivers/ntb/test/Kbuild" <<'KB'
obj-m += ntb_tool.o ntb_perf.o ntb_pingpong.o
KB
cat >"$bdir/drivers/net/Kbuild" <<'KB'
obj-m += ntb_netdev.o
KB
cat >"$bdir/drivers/dma/Kbuild" <<'KB'
obj-m += plx_dma.o
KB

ntblab_log "building NTB core and clients for $rel in $bdir"
# shellcheck disable=SC2086
make -C "$kdir" M="$bdir" -j"$(nproc)" $w1 modules >"$bdir/build.log" 2>&1 || {
	tail -n 40 "$bdir/build.log" >&2
	ntblab_die "build failed (log: $bdir/build.log)"
}

mkdir -p "$out"
for m in $mods; do
	ko=$(find "$bdir" -name "$m.ko" | head -n1)
	[ -n "$ko" ] || ntblab_die "$m.ko was not built"
	vm=$(modinfo -F vermagic "$ko" | cut -d' ' -f1)
	[ "$vm" = "$rel" ] || ntblab_die "$m.ko has vermagic $vm, want $rel"
	cp "$ko" "$out/"
done
cp "$bdir/Module.symvers" "$out/Module.symvers.linux-ntb"
echo "$inputs" >"$out/.linux-ntb.inputs"
ntblab_log "modules in $out: $mods (vermagic $rel)"
echo "$out"
