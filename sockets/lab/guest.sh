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
#   guest.sh check-log [TAG]        fail on an oops, BUG, WARNING or call trace
#   guest.sh status                 print /proc/net/af_ntb/status
set -euo pipefail

idx=${NTBLAB_NODE_INDEX:-0}
nodes=${NTBLAB_NODES:-2}
topo=${NTBLAB_TOPOLOGY:-back-to-back}
proc=/proc/net/af_ntb

say() { echo "[${NTBLAB_NODE:-guest}] $*" >&2; }
die() { say "FAIL: $*"; exit 1; }

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
	local me=10.2.0.$((idx + 1)) i=0 dev=""
	# the window is 16 MiB and must be aligned to its size: cap the buffer
	modprobe ntb_transport max_mw_size=${NTB_MAX_MW:-4194304}
	modprobe ntb_netdev
	while [ -z "$dev" ] && [ $i -lt 100 ]; do
		# the interface ntb_netdev made: any but lo and the virtio one
		dev=$(ls /sys/class/net | grep -v -x -e lo -e eth0 | head -n1)
		[ -n "$dev" ] || { sleep 0.1; i=$((i + 1)); }
	done
	[ -n "$dev" ] || die "ntb_netdev made no interface"
	ip addr add "$me/24" dev "$dev"
	ip link set "$dev" up
	say "ntb_netdev $dev $me"
}

netdev_wait() {
	local peer end
	[ "$idx" -eq 0 ] && peer=10.2.0.2 || peer=10.2.0.1
	end=$((SECONDS + ${1:-60}))
	while ! ping -c 1 -W 1 "$peer" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || die "ntb_netdev: $peer does not answer"
	done
}

wait_port() {
	local port=$1 i=0 hex
	hex=$(printf '%04X' "$port")
	while ! grep -q ":$hex 00000000:0000 0A" /proc/net/tcp 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 300 ] || die "nothing listens on TCP port $port"
		sleep 0.1
	done
}

check_log() {
	local bad
	bad=$(dmesg | grep -E 'Oops|BUG:|WARNING:|Call Trace|general protection' || true)
	if [ -n "$bad" ]; then
		dmesg | tail -n 80 >&2
		die "${1:-kernel log}: $bad"
	fi
	say "${1:-kernel log}: clean"
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
wait-port) wait_port "$@" ;;
check-log) check_log "$@" ;;
status) cat $proc/status ;;
*) die "usage: guest.sh setup|load|unload|netdev|wait-up|wait-port|check-log|status" ;;
esac
