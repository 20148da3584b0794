# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Shell helpers shared by the lab's guest-side scripts (sourced, not run):
# tests/ntb/guest.sh (the NTB suite) and sockets/lab/guest.sh (af_ntb).  Each
# script keeps the helpers only it needs; what both need lives here, once.
# They run inside a lab guest, in the chroot of the host's root, with the
# environment the runner gives every step (NTBLAB_NODE, NTBLAB_NODE_INDEX, ...).
#
#   say MSG...             a line on stderr, tagged with the node's name
#   die MSG...             say "FAIL: MSG" and exit 1
#   check_log [TAG]        fail if the kernel log has an oops, a BUG, a WARNING,
#                          a call trace, list corruption, a refcount error, a
#                          UBSAN or KASAN report or a leak; print them
#   wait_listen PORT [SECS]  wait (default 20 s) until a TCP socket listens on PORT
#   netdev_ifc             the ntb_netdev interface, if there is one
#   netdev_wait_ifc        wait (10 s) for the ntb_netdev interface; print it
#   transport_state        ntb_transport's view of the link, for a failure's log
#   ping_wait ADDR [SECS]  ping until ADDR answers (default 30 s)

say() { echo "[${NTBLAB_NODE:-$(hostname 2>/dev/null || echo guest)}] $*" >&2; }
die() {
	say "FAIL: $*"
	exit 1
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

wait_listen() {
	local port=$1 secs=${2:-20} i
	for ((i = 0; i < secs * 10; i++)); do
		ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	die "nothing listens on TCP port $port after ${secs}s"
}

# ntb_netdev's interface hangs off a transport queue (bus ntb_transport)
netdev_ifc() {
	local n
	for n in /sys/class/net/*; do
		if [[ $(readlink "$n/device/subsystem" 2>/dev/null) == */bus/ntb_transport ]]; then
			basename "$n"
			return 0
		fi
	done
}

netdev_wait_ifc() {
	local ifc i
	for ((i = 0; i < 100; i++)); do
		ifc=$(netdev_ifc)
		[ -n "$ifc" ] && break
		sleep 0.1
	done
	[ -n "$ifc" ] || die "no ntb_netdev interface"
	echo "$ifc"
}

transport_state() {
	local f
	mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
	for f in /sys/kernel/debug/ntb_transport/*/qp*/stats; do
		[ -e "$f" ] && grep -E 'QP Link|tx_index|rx_index|free tx' "$f" | sed "s|^|$f: |"
	done
	ip -o link show 2>/dev/null | grep -v ' lo:'
	ip neigh 2>/dev/null
	dmesg | grep -E 'ntb|qp [0-9]' | tail -n 15
}

# Once a second (the first answer may wait for ARP and for the peer's queue
# to come up)
ping_wait() {
	local addr=$1 secs=${2:-30} t0
	t0=$(date +%s%N)
	while ((($(date +%s%N) - t0) / 1000000000 < secs)); do
		if ping -c 1 -W 1 "$addr" >/dev/null 2>&1; then
			say "$addr answers after $((($(date +%s%N) - t0) / 1000000)) ms"
			return 0
		fi
		sleep 0.2
	done
	transport_state >&2
	die "$addr did not answer within ${secs}s"
}
