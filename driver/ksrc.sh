# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the driver/ build scripts (sourced, not run).
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

# Directory holding the extracted files (shared by all driver/ scripts).
ntblab_ksrc_dir() {
	echo "$NTBLAB_CACHE/src"
}
