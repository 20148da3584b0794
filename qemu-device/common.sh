# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-only
# ntblab: helpers shared by qemu-device/build-qemu.sh and guest/*.sh.
# Source it; it defines functions and NTBLAB_CACHE, and runs nothing else.

NTBLAB_CACHE="${NTBLAB_CACHE:-/var/cache/ntblab}"

# Progress goes to stderr: stdout is kept for results (paths).
log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

_ntblab_apt_updated=0

# apt_update_once: run 'apt-get update' at most once per script run.
apt_update_once() {
    if [ "$_ntblab_apt_updated" = 0 ]; then
        log "apt-get update"
        apt-get update -qq >&2 || die "apt-get update failed"
        _ntblab_apt_updated=1
    fi
}

# pkg_installed NAME: true if the Debian package is installed.
pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# apt_ensure PKG...: install the packages that are missing (and only those).
apt_ensure() {
    local missing=() p
    for p in "$@"; do
        pkg_installed "$p" || missing+=("$p")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    [ "$(id -u)" = 0 ] || die "need root to install: ${missing[*]}"
    apt_update_once
    log "installing: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed"
}

# read_list FILE: print the non-empty, non-comment lines of FILE.
read_list() {
    sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$1"
}

# hash_paths PATH...: one sha256 over the names and contents of the files
# (directories are walked; order is stable).
hash_paths() {
    local f
    find "$@" -type f -print | LC_ALL=C sort | while IFS= read -r f; do
        printf '%s\n' "${f##*/}"
        sha256sum < "$f"
    done | sha256sum | cut -c1-64
}

# apt_max_version NAME (source|binary): highest version apt knows, or empty.
apt_max_version() {
    local name="$1" kind="$2" v best=""
    if [ "$kind" = source ]; then
        v=$(apt-cache showsrc "$name" 2>/dev/null | awk '/^Version:/ {print $2}')
    else
        v=$(apt-cache madison "$name" 2>/dev/null | awk -F'|' -v n="$name" \
            '{ gsub(/ /, "", $1); gsub(/ /, "", $2) } $1 == n && $3 ~ /Packages$/ { print $2 }')
    fi
    for v in $v; do
        if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then
            best="$v"
        fi
    done
    printf '%s\n' "$best"
}
