#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Guest-side helpers for af_ntb in the lab (run inside a lab guest by scenario
# steps and by bench_sockets; NTBLAB_ROOT, NTBLAB_NODE_INDEX, NTBLAB_NODES and
# NTBLAB_TOPOLOGY come from the runner).  Fabric addresses: node i is
# 10.1.0.(i+1); TCP over virtio-net: 10.0.0.(i+1); TCP over ntb_netdev:
# 10.2.0.(i+1).
#
#   guest.sh setup [AF_NTB_PARAMS]  load ntb_hw_plx, plx_dma and af_ntb, write
#                                   the address table, wait for every session
#   guest.sh load [AF_NTB_PARAMS]   the same without waiting (then wait-up)
#   guest.sh unload                 remove af_ntb (waits for orphaned sockets)
#   guest.sh netdev                 load ntb_netdev, configure 10.2.0.(i+1)/24
#   guest.sh netdev-wait [SECS]     wait until the peer answers on it
#   guest.sh wait-up [SECS]         wait until every af_ntb peer is up
#   guest.sh wait-port PORT [ADDR]  wait until something listens on PORT
#   guest.sh check-log [TAG]        fail on an oops, BUG, WARNING, call trace,
#                                   list corruption, refcount error, UBSAN or
#                                   KASAN report or leak (guest/lib/guest-lib.sh)
#   guest.sh status                 print /proc/net/af_ntb/status
#   guest.sh bytes                  "TX RX": stream bytes af_ntb sent to and
#                                   received from all peers since loading
#   guest.sh via-ntb TX RX CMD...   run CMD; fail if it fails, or if af_ntb
#                                   did not send at least TX and receive at
#                                   least RX bytes meanwhile (its traffic went
#                                   over TCP, or nowhere)
#   guest.sh via-tcp CMD...         run CMD; fail if it fails or if af_ntb
#                                   carried any stream bytes meanwhile (it
#                                   was meant to go over TCP)
#   guest.sh wait-log FILE PATTERN  wait (30 s) until FILE has PATTERN (e.g.
#                                   ntb_run -d's "listening on NTB only")
set -euo pipefail

idx=${NTBLAB_NODE_INDEX:-0}
nodes=${NTBLAB_NODES:-2}
topo=${NTBLAB_TOPOLOGY:-back-to-back}
proc=/proc/net/af_ntb

# say, die, check_log, wait_listen and the ntb_netdev helpers
# shellcheck source=../../guest/lib/guest-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../guest/lib/guest-lib.sh"

nnodes() {
	# NTBLAB_NODES is a count or a list of names
	case $nodes in
	*[!0-9]*) echo "$nodes" | tr ', ' '\n\n' | grep -c . ;;
	*) echo "$nodes" ;;
	esac
}

load_plx() {
	local n
	n=$(nnodes)
	if [ "$topo" = fabric ]; then
		modprobe ntb_hw_plx peers=$((n - 1))
	else
		modprobe ntb_hw_plx
	fi
	modprobe plx_dma || say "plx_dma did not load: no DMA"
}

wait_up() {
	local secs=${1:-30} n want end
	want=$(($(nnodes) - 1))
	end=$((SECONDS + secs))
	while [ $SECONDS -lt $end ]; do
		n=$(grep -c 'state up' $proc/status 2>/dev/null || true)
		[ "$n" -ge "$want" ] && return 0
		sleep 0.1
	done
	cat $proc/status >&2 || true
	die "af_ntb: $n of $want sessions up after ${secs}s"
}

load() {
	local n j
	n=$(nnodes)
	load_plx
	modprobe af_ntb "$@"
	echo "self 10.1.0.$((idx + 1))" >$proc/peers
	for j in $(seq 0 $((n - 1))); do
		[ "$j" -eq "$idx" ] && continue
		if [ "$topo" = fabric ]; then
			echo "add 10.1.0.$((j + 1)) - $j" >$proc/peers
		else
			echo "add 10.1.0.$((j + 1)) - 0" >$proc/peers
		fi
	done
}

setup() {
	load "$@"
	wait_up 60
}

unload() {
	local i=0
	while ! rmmod af_ntb 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || die "af_ntb still in use after 10s"
		sleep 0.1
	done
}

netdev() {
	local me=10.2.0.$((idx + 1)) dev
	# the window is 16 MiB and must be aligned to its size: cap the buffer
	modprobe ntb_transport max_mw_size=${NTB_MAX_MW:-4194304}
	modprobe ntb_netdev
	dev=$(netdev_wait_ifc)
	ip addr add "$me/24" dev "$dev"
	ip link set "$dev" up
	say "ntb_netdev $dev $me"
}

netdev_wait() {
	local peer
	[ "$idx" -eq 0 ] && peer=10.2.0.2 || peer=10.2.0.1
	ping_wait "$peer" "${1:-60}"
}

bytes() {
	awk '/ tx_bytes / { for (i = 1; i < NF; i++) {
		if ($i == "tx_bytes") tx += $(i + 1)
		if ($i == "rx_bytes") rx += $(i + 1) } }
	     END { printf "%d %d\n", tx, rx }' $proc/status
}

via_ntb() {
	local txmin=$1 rxmin=$2 tx0 rx0 tx1 rx1 rc=0 b
	shift 2
	# (no process substitution: the guests have no /dev/fd)
	b=$(bytes)
	tx0=${b% *} rx0=${b#* }
	"$@" || rc=$?
	b=$(bytes)
	tx1=${b% *} rx1=${b#* }
	say "af_ntb during '$*': sent $((tx1 - tx0)) received $((rx1 - rx0)) bytes (exit $rc)"
	[ $rc -eq 0 ] || die "'$*' failed (exit $rc)"
	[ $((tx1 - tx0)) -ge "$txmin" ] && [ $((rx1 - rx0)) -ge "$rxmin" ] ||
		die "'$*': af_ntb carried less than $txmin/$rxmin bytes out/in: not over af_ntb"
}

via_tcp() {
	local b0 b1 rc=0
	b0=$(bytes)
	"$@" || rc=$?
	b1=$(bytes)
	say "af_ntb during '$*': '$b0' -> '$b1' (TX RX), exit $rc"
	[ $rc -eq 0 ] || die "'$*' failed (exit $rc)"
	[ "$b0" = "$b1" ] || die "'$*': af_ntb carried bytes: not over TCP only"
}

wait_log() {
	local i=0
	while ! grep -q -e "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 300 ] || { cat "$1" >&2 || true; die "no '$2' in $1"; }
		sleep 0.1
	done
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
setup) setup "$@" ;;
load) load "$@" ;;
unload) unload ;;
netdev) netdev ;;
netdev-wait) netdev_wait "$@" ;;
wait-up) wait_up "$@" ;;
wait-port) wait_listen "$1" 30 ;;
check-log) check_log "$@" ;;
status) cat $proc/status ;;
bytes) bytes ;;
via-ntb) via_ntb "$@" ;;
via-tcp) via_tcp "$@" ;;
wait-log) wait_log "$@" ;;
*) die "usage: guest.sh setup|load|unload|netdev|wait-up|wait-port|check-log|status|bytes|via-ntb|via-tcp|wait-log" ;;
esac
