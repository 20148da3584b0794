#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build everything the guest kernel needs from driver/:
#   1. Linux's NTB core and clients (kbuild/linux-ntb.sh), and
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
top=$(cd "$here/.." && pwd)
# shellcheck source=SCRIPTDIR/../kbuild/ksrc.sh
. "$top/kbuild/ksrc.sh"

ntblab_build_args "" "$@"
[ -n "$rel" ] || rel=$(ntblab_rel)
[ -n "$out" ] || out=$NTBLAB_CACHE/modules/$rel
kdir=/usr/src/linux-headers-$rel

args=()
[ "$force" = 0 ] || args+=(--force)
"$top/kbuild/linux-ntb.sh" --out "$out" --rel "$rel" "${args[@]}" >/dev/null

ntblab_build_ntb_module ntb_hw_plx "$here/ntb_hw_plx" "$out" "$rel" "$kdir" "$out/Module.symvers.linux-ntb" "$w1" "$force" ntb_hw_plx
