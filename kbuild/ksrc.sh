# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the kernel module builds (sourced, not run): kbuild/,
# driver/build.sh and sockets/build.sh.
#
# ntblab_rel             print the guest kernel release: the one Debian's
#                        linux-image-amd64 package depends on now
#                        (override with NTBLAB_KREL=6.1.0-NN-amd64)
# ntblab_need_pkgs P...  apt-get install the packages that are missing
# ntblab_ksrc_extract D F...
#                        extract files F (paths inside the kernel tree) from
#                        Debian's linux-source-6.1 tarball into directory D;
#                        D is reused while the package version is unchanged
#
# Nothing here writes into the repository.

NTBLAB_CACHE=${NTBLAB_CACHE:-/var/cache/ntblab}
NTBLAB_KSRC_PKG=linux-source-6.1
NTBLAB_KSRC_TAR=/usr/src/linux-source-6.1.tar.xz

# ntblab_build_args W1 ARGS...: the options every module build script takes
# (--out DIR, --rel REL, --force, --w1, --no-w1, --help); sets out, rel, force
# and w1, with W1 ("W=1" or "") as w1's default. --help prints the calling
# script's header comment.
ntblab_build_args() {
	w1=$1
	shift
	out='' rel='' force=0
	while [ $# -gt 0 ]; do
		case $1 in
		--out) out=$2; shift 2 ;;
		--out=*) out=${1#--out=}; shift ;;
		--rel) rel=$2; shift 2 ;;
		--rel=*) rel=${1#--rel=}; shift ;;
		--force) force=1; shift ;;
		--w1) w1="W=1"; shift ;;
		--no-w1) w1=''; shift ;;
		-h|--help) sed -n '3,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;;
		*) ntblab_die "unknown argument: $1" ;;
		esac
	done
}

ntblab_log() { echo "[$(basename "$0")] $*" >&2; }
ntblab_die() { ntblab_log "error: $*"; exit 1; }

ntblab_apt_updated=0
ntblab_apt_update() {
	[ "$ntblab_apt_updated" = 1 ] && return 0
	ntblab_log "apt-get update"
	apt-get update -q >/dev/null || ntblab_die "apt-get update failed"
	ntblab_apt_updated=1
}

ntblab_rel() {
	local img
	if [ -n "${NTBLAB_KREL:-}" ]; then
		echo "$NTBLAB_KREL"
		return 0
	fi
	img=$(apt-cache depends linux-image-amd64 2>/dev/null |
	      sed -n 's/^ *Depends: linux-image-\([0-9].*-amd64\)$/\1/p' | head -n1)
	if [ -z "$img" ]; then
		ntblab_apt_update
		img=$(apt-cache depends linux-image-amd64 2>/dev/null |
		      sed -n 's/^ *Depends: linux-image-\([0-9].*-amd64\)$/\1/p' | head -n1)
	fi
	[ -n "$img" ] || ntblab_die "cannot tell which kernel linux-image-amd64 depends on"
	echo "$img"
}

ntblab_pkg_installed() {
	[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

ntblab_need_pkgs() {
	local p missing=
	for p in "$@"; do
		ntblab_pkg_installed "$p" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	[ "$(id -u)" = 0 ] || ntblab_die "need root to install:$missing"
	ntblab_apt_update
	ntblab_log "apt-get install$missing"
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null ||
		ntblab_die "apt-get install$missing failed"
}

ntblab_pkg_version() {
	dpkg-query -W -f='${Version}' "$1" 2>/dev/null
}

# Extract only the named files of the kernel tree.  Files already present
# (from an earlier call with the same package version) are not extracted again.
ntblab_ksrc_extract() {
	local dir=$1 f want='' ver
	shift
	ntblab_need_pkgs "$NTBLAB_KSRC_PKG" xz-utils
	ver=$(ntblab_pkg_version "$NTBLAB_KSRC_PKG")
	mkdir -p "$dir"
	if [ "$(cat "$dir/.version" 2>/dev/null)" != "$ver" ]; then
		rm -rf "${dir:?}/linux-source-6.1"
		echo "$ver" >"$dir/.version"
	fi
	for f in "$@"; do
		[ -e "$dir/linux-source-6.1/$f" ] || want="$want linux-source-6.1/$f"
	done
	[ -z "$want" ] && return 0
	ntblab_log "extracting from $NTBLAB_KSRC_TAR ($ver):$want"
	# shellcheck disable=SC2086
	tar -C "$dir" -xJf "$NTBLAB_KSRC_TAR" $want ||
		ntblab_die "cannot extract$want"
}

# Directory holding the extracted files (shared by all the kernel build scripts).
ntblab_ksrc_dir() {
	echo "$NTBLAB_CACHE/src"
}

# ntblab_build_ntb_module NAME SRC OUT REL KDIR SYMVERS W1 FORCE WARN_RE
#   Build the external module NAME.ko from SRC (Kbuild + *.[ch]) against the
#   headers in KDIR and the NTB core's SYMVERS, into OUT. Skipped when nothing
#   that goes into it (the calling script, this file, the sources, SYMVERS, REL,
#   W1, KDIR, the headers' package version, gcc) changed since the last build.
#   Fails on a compiler warning in a file matching WARN_RE, on an unresolved
#   symbol, or on a vermagic other than REL. Prints OUT on stdout.
ntblab_build_ntb_module() {
	local name=$1 src=$2 out=$3 rel=$4 kdir=$5 symvers=$6 w1=$7 force=$8 warn_re=$9
	local inputs bdir vm
	inputs=$( {
		cat "$0" "${BASH_SOURCE[0]}" "$src"/Kbuild "$src"/*.[ch] "$symvers"
		echo "rel=$rel w1=$w1 kdir=$kdir"
		ntblab_pkg_version "linux-headers-$rel"
		gcc --version | head -n1
	} | sha256sum | cut -d' ' -f1)
	if [ "$force" = 0 ] && [ -f "$out/$name.ko" ] &&
	   [ "$(cat "$out/.$name.inputs" 2>/dev/null)" = "$inputs" ]; then
		ntblab_log "up to date: $out/$name.ko"
		echo "$out"
		return 0
	fi

	bdir=$NTBLAB_CACHE/build/$name-$rel
	rm -rf "$bdir"
	mkdir -p "$bdir"
	cp "$src"/Kbuild "$src"/*.[ch] "$bdir/"
	cp "$symvers" "$bdir/ntb.symvers"

	ntblab_log "building $name for $rel in $bdir"
	# shellcheck disable=SC2086
	if ! make -C "$kdir" M="$bdir" KBUILD_EXTRA_SYMBOLS="$bdir/ntb.symvers" \
		$w1 -j"$(nproc)" modules >"$bdir/build.log" 2>&1; then
		cat "$bdir/build.log" >&2
		ntblab_die "build failed (log: $bdir/build.log)"
	fi
	if grep -E 'warning:|error:' "$bdir/build.log" | grep -qE "$warn_re"; then
		grep -E -A3 'warning:|error:' "$bdir/build.log" >&2
		ntblab_die "$name built with warnings (log: $bdir/build.log)"
	fi
	if grep -q 'WARNING: modpost' "$bdir/build.log"; then
		grep 'WARNING: modpost' "$bdir/build.log" >&2
		ntblab_die "$name has unresolved symbols (log: $bdir/build.log)"
	fi

	vm=$(modinfo -F vermagic "$bdir/$name.ko" | cut -d' ' -f1)
	[ "$vm" = "$rel" ] || ntblab_die "$name.ko has vermagic $vm, want $rel"
	mkdir -p "$out"
	cp "$bdir/$name.ko" "$out/"
	echo "$inputs" >"$out/.$name.inputs"
	ntblab_log "$name.ko in $out (vermagic $rel)"
	echo "$out"
}
