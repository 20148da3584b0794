#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the af_ntb socket family module (sockets/kernel/) for the guest
# kernel, against the NTB core's Module.symvers (kbuild/linux-ntb.sh
# makes it; it is built first when missing).  The build happens under
# $NTBLAB_CACHE/build, never in the repository.
#
# usage: sockets/build.sh [--out DIR] [--rel REL] [--force] [--no-w1]
#   --out DIR  where af_ntb.ko goes
#              (default ${NTBLAB_CACHE:-/var/cache/ntblab}/modules/REL)
#   --rel REL  kernel release (default: $NTBLAB_CACHE/guest/kernel.release,
#              else the one linux-image-amd64 depends on)
#   --force    rebuild even if the inputs did not change
#   --no-w1    build without W=1 (default is W=1; any warning fails)
# Prints the output directory on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck source=SCRIPTDIR/../kbuild/ksrc.sh
. "$top/kbuild/ksrc.sh"

ntblab_build_args "W=1" "$@"

if [ -z "$rel" ] && [ -s "$NTBLAB_CACHE/guest/kernel.release" ]; then
	rel=$(cat "$NTBLAB_CACHE/guest/kernel.release")
fi
[ -n "$rel" ] || rel=$(ntblab_rel)
[ -n "$out" ] || out=$NTBLAB_CACHE/modules/$rel
kdir=/usr/src/linux-headers-$rel
[ -f "$kdir/Makefile" ] || kdir=$NTBLAB_CACHE/guest/kdir
if [ ! -f "$kdir/Makefile" ]; then
	ntblab_need_pkgs "linux-headers-$rel" build-essential kmod
	kdir=/usr/src/linux-headers-$rel
fi

symvers=$out/Module.symvers.linux-ntb
if [ ! -f "$symvers" ]; then
	ntblab_log "no $symvers: building the NTB core first"
	"$top/kbuild/linux-ntb.sh" --out "$out" --rel "$rel" >/dev/null
fi

ntblab_build_ntb_module af_ntb "$here/kernel" "$out" "$rel" "$kdir" "$symvers" "$w1" "$force" ntbs_
