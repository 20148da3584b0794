#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build everything the guest kernel needs from driver/:
#   1. Linux's NTB core and clients (driver/linux-ntb/build.sh), and
#   2. our ntb_hw_plx, against the core's Module.symvers.
# The build happens under $NTBLAB_CACHE/build, never in the repository.
#
# usage: driver/build.sh [--out DIR] [--rel REL] [--force] [--w1]
#   --out DIR  where the .ko files go
#              (default ${NTBLAB_CACHE:-/var/cache/ntblab}/modules/REL)
#   --rel REL  kernel release (default: the one linux-image-amd64 depends on)
#   --force    rebuild even if the inputs did not change
#   --w1       build with W=1 (extra warnings; the build fails on any
#              warning in ntb_hw_plx)
# Prints the output directory on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/ksrc.sh
. "$here/ksrc.sh"

out='' rel='' args=() force=0 w1=''
while [ $# -gt 0 ]; do
	case $1 in
	--out) out=$2; shift 2 ;;
	--out=*) out=${1#--out=}; shift ;;
	--rel) rel=$2; shift 2 ;;
	--rel=*) rel=${1#--rel=}; shift ;;
	--force) force=1; args+=(--force); shift ;;
	--w1) w1="W=1"; shift ;;
	-h|--help) sed -n '3,17p' "$0"; exit 0 ;;
	*) ntblab_die "unknown argument: $1" ;;
	esac
done
[ -n "$rel" ] || rel=$(ntblab_rel)
[ -n "$out" ] || out=$NTBLAB_CACHE/modules/$rel
kdir=/usr/src/linux-headers-$rel

"$here/linux-ntb/build.sh" --out "$out" --rel "$rel" "${args[@]}" >/dev/null

src="$here/ntb_hw_plx"
inputs=$( {
	cat "$0" "$here/ksrc.sh" "$src"/Kbuild "$src"/*.[ch] "$out/Module.symvers.linux-ntb"
	echo "rel=$rel w1=$w1"
	ntblab_pkg_version "linux-headers-$rel"
	gcc --version | head -n1
} | sha256sum | cut -d' ' -f1)
if [ "$force" = 0 ] && [ -f "$out/ntb_hw_plx.ko" ] &&
   [ "$(cat "$out/.ntb_hw_plx.inputs" 2>/dev/null)" = "$inputs" ]; then
	ntblab_log "up to date: $out/ntb_hw_plx.ko"
	echo "$out"
	exit 0
fi

bdir=$NTBLAB_CACHE/build/ntb_hw_plx-$rel
rm -rf "$bdir"
mkdir -p "$bdir"
cp "$src"/Kbuild "$src"/*.[ch] "$bdir/"
cp "$out/Module.symvers.linux-ntb" "$bdir/ntb.symvers"

ntblab_log "building ntb_hw_plx for $rel in $bdir"
# shellcheck disable=SC2086
if ! make -C "$kdir" M="$bdir" KBUILD_EXTRA_SYMBOLS="$bdir/ntb.symvers" \
	$w1 modules >"$bdir/build.log" 2>&1; then
	cat "$bdir/build.log" >&2
	ntblab_die "build failed (log: $bdir/build.log)"
fi
if grep -E 'warning:|error:' "$bdir/build.log" | grep -q ntb_hw_plx; then
	grep -E -A3 'warning:|error:' "$bdir/build.log" >&2
	ntblab_die "ntb_hw_plx built with warnings (log: $bdir/build.log)"
fi

vm=$(modinfo -F vermagic "$bdir/ntb_hw_plx.ko" | cut -d' ' -f1)
[ "$vm" = "$rel" ] || ntblab_die "ntb_hw_plx.ko has vermagic $vm, want $rel"
cp "$bdir/ntb_hw_plx.ko" "$out/"
echo "$inputs" >"$out/.ntb_hw_plx.inputs"
ntblab_log "ntb_hw_plx.ko in $out (vermagic $rel)"
echo "$out"
