#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the kernel's scripts/checkpatch.pl (from Debian's linux-source-6.1,
# extracted under $NTBLAB_CACHE) in --strict mode on every kernel C file of
# the project: driver/ and sockets/kernel/.  Exits non-zero on any error,
# warning or check.
#
# usage: kbuild/checkpatch.sh [FILE|DIR...]   (default: all of them; a DIR
#        stands for the *.[ch] files under it)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck source=SCRIPTDIR/ksrc.sh
. "$here/ksrc.sh"

ntblab_need_pkgs perl
src=$(ntblab_ksrc_dir)
ntblab_ksrc_extract "$src" scripts/checkpatch.pl scripts/spelling.txt \
	scripts/const_structs.checkpatch
cp=$src/linux-source-6.1/scripts/checkpatch.pl

if [ $# -gt 0 ]; then
	files=()
	for a in "$@"; do
		case $a in /*) p=$a ;; *) p=$top/$a ;; esac
		if [ -d "$p" ]; then
			mapfile -t -O "${#files[@]}" files < <(find "$p" \
				-name '*.[ch]' -type f | sort)
		else
			files+=("$a")
		fi
	done
else
	mapfile -t files < <(cd "$top" && find driver sockets/kernel \
		-name '*.[ch]' -type f 2>/dev/null | sort)
fi
[ ${#files[@]} -gt 0 ] || { echo "checkpatch: no kernel C files"; exit 0; }

fail=0
for f in "${files[@]}"; do
	case $f in /*) p=$f ;; *) p=$top/$f ;; esac
	if out=$(perl "$cp" --strict --no-tree --no-summary --terse \
			--show-types -f "$p" 2>&1) && [ -z "$out" ]; then
		echo "checkpatch: $f: clean"
	else
		echo "$out"
		echo "checkpatch: $f: NOT clean"
		fail=1
	fi
done
exit $fail
