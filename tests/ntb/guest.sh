#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Guest-side helpers of the NTB suite (run inside a lab guest by scenario
# steps; NTBLAB_ROOT, NTBLAB_NODE_INDEX, NTBLAB_KREL come from the runner).
#
#   guest.sh setup [MODPARAMS]   mount debugfs, load ntb_hw_plx, build the ssh
#                                shim (tests/ntb/ntbsh.c) into /tmp/ntbsh and
#                                start its server on this guest's address
#   guest.sh peer-ip             the other node's virtio-net address
#   guest.sh ntbdev              this node's NTB device name
#   guest.sh wait-link [SECS]    wait until ntb_tool (loaded here) sees link up
#   guest.sh ntb-test [ARGS]     run Linux's ntb_test.sh (from Debian's
#                                linux-source-6.1, extracted at build time,
#                                unmodified) against the peer, with ARGS
#   guest.sh check-log [TAG]     fail if the kernel log has an oops, a WARNING,
#                                a BUG or a call trace; print them
#   guest.sh irq-count           interrupt handlers named ntb_hw_plx
set -euo pipefail

root=${NTBLAB_ROOT:?}
shim=/tmp/ntbsh
port=7022

say() { echo "[$(hostname 2>/dev/null || echo guest) ${NTBLAB_NODE:-}] $*" >&2; }
die() { say "FAIL: $*"; exit 1; }

my_ip() {
	ip -o -4 addr show 2>/dev/null | awk '$2 != "lo" {sub(/\/.*/, "", $4); print $4; exit}'
}

peer_ip() {
	# back-to-back: two nodes, 10.0.0.1 and 10.0.0.2 unless a scenario says
	# otherwise; the peer is the other address of our /24
	local me
	me=$(my_ip)
	case $me in
	*.1) echo "${me%.*}.2" ;;
	*.2) echo "${me%.*}.1" ;;
	*) die "cannot tell the peer of $me" ;;
	esac
}

ntbdev() {
	local d
	d=$(ls /sys/bus/ntb/devices 2>/dev/null | head -n1)
	[ -n "$d" ] || die "no NTB device in /sys/bus/ntb/devices"
	echo "$d"
}

# The cache the lab was built from: the guests' module tree lives in it
cache_dir() {
	local mr
	mr=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^ntblab\.modroot=//p')
	if [ -n "$mr" ]; then
		dirname "$(dirname "$mr")"
	else
		echo "${NTBLAB_CACHE:-/var/cache/ntblab}"
	fi
}

ntb_test_path() {
	local f
	f=$(cache_dir)/src/linux-source-6.1/tools/testing/selftests/ntb/ntb_test.sh
	[ -f "$f" ] || die "$f missing (driver/linux-ntb/build.sh extracts it)"
	echo "$f"
}

setup() {
	mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
	modprobe ntb_hw_plx "$@"
	ntbdev >/dev/null
	if [ ! -x $shim/bin/ssh ]; then
		mkdir -p $shim/bin
		cc -O2 -o $shim/bin/ntbsh "$root/tests/ntb/ntbsh.c"
		ln -sf ntbsh $shim/bin/ssh
	fi
	$shim/bin/ntbsh serve "$(my_ip)" $port >/dev/null
	say "ntb device $(ntbdev), shim serving on $(my_ip):$port"
}

wait_link() {
	local secs=${1:-20} d f i
	d=$(ntbdev)
	f=/sys/kernel/debug/ntb_tool/$d/peer0/link
	[ -e "$f" ] || die "ntb_tool not loaded"
	for ((i = 0; i < secs * 10; i++)); do
		[ "$(cat "$f")" = Y ] && return 0
		sleep 0.1
	done
	die "link not up after ${secs}s"
}

ntb_test() {
	local t peer rdev
	t=$(ntb_test_path)
	peer=$(peer_ip)
	export PATH=$shim/bin:$PATH
	# the peer must answer through the shim before the test starts
	rdev=$(ssh "$peer" ls /sys/bus/ntb/devices | head -n1)
	[ -n "$rdev" ] || die "peer $peer has no NTB device"
	say "ntb_test.sh $* -r $peer $(ntbdev) $rdev  ($t)"
	# ntb_test.sh wants bash and root; its exit status is ours
	bash "$t" "$@" -r "$peer" "$(ntbdev)" "$rdev"
}

check_log() {
	local bad
	bad=$(dmesg | grep -E 'Oops|WARNING:|BUG[: ]|Call Trace|general protection|kernel BUG|RIP:|list_(add|del) corruption|refcount_t:|UBSAN|KASAN|leak' || true)
	if [ -n "$bad" ]; then
		dmesg | tail -n 80 >&2
		die "kernel log ${1:+($1) }has: $(echo "$bad" | head -n 5)"
	fi
	say "kernel log clean${1:+ ($1)}"
}

irq_count() {
	grep -c ntb_hw_plx /proc/interrupts || true
}

cmd=${1:-}
shift || true
case $cmd in
setup) setup "$@" ;;
peer-ip) peer_ip ;;
ntbdev) ntbdev ;;
wait-link) wait_link "$@" ;;
ntb-test) ntb_test "$@" ;;
check-log) check_log "$@" ;;
irq-count) irq_count ;;
*) sed -n '4,19p' "$0"; exit 2 ;;
esac
