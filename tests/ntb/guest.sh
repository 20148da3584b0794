#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Guest-side helpers of the NTB suite (run inside a lab guest by scenario
# steps; NTBLAB_ROOT, NTBLAB_NODE_INDEX, NTBLAB_KREL come from the runner).
#
#   guest.sh setup [MODPARAMS]   mount debugfs, load ntb_hw_plx, build the ssh
#                                shim (tests/ntb/ntbsh.c) into /run/ntbsh and
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
#   guest.sh no-leftovers        fail if ntb_hw_plx left a handler or a region
#   guest.sh cycle [N] [PAUSE]   load/unload ntb_hw_plx N times (default 50)
#   guest.sh wait-for FILE VALUE [SECS]   wait until FILE reads VALUE
#   guest.sh netdev-carrier [SECS]        wait for the ntb_netdev carrier
#   guest.sh ping-wait ADDR [SECS]        ping until ADDR answers (deadline)
#   guest.sh wait-listen PORT [SECS]      wait until a TCP listener is up
set -euo pipefail

root=${NTBLAB_ROOT:?}
shim=/run/ntbsh
port=7022

# say, die, check_log, wait_listen and the ntb_netdev helpers
# shellcheck source=../../guest/lib/guest-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../guest/lib/guest-lib.sh"

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
	[ -f "$f" ] || die "$f missing (kbuild/linux-ntb.sh extracts it)"
	echo "$f"
}

setup() {
	mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
	modprobe ntb_hw_plx "$@"
	# the switch's DMA functions, for ntb_perf use_dma=1 and ntb_transport
	modprobe plx_dma
	ntbdev >/dev/null
	if [ ! -x $shim/bin/ssh ]; then
		mkdir -p $shim/bin
		cc -O2 -o $shim/bin/ntbsh "$root/tests/ntb/ntbsh.c"
		ln -sf ntbsh $shim/bin/ssh
	fi
	if ! { [ -f $shim/pid ] && kill -0 "$(cat $shim/pid)" 2>/dev/null; }; then
		$shim/bin/ntbsh serve "$(my_ip)" $port >$shim/pid
	fi
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
	# ntb_test.sh wants bash and root.  It prints a perf run's errors
	# ("error status -19") and carries on, so its log is checked as well.
	set +e
	bash "$t" "$@" -r "$peer" "$(ntbdev)" "$rdev" 2>&1 | tee /tmp/ntb_test.log
	rc=${PIPESTATUS[0]}
	set -e
	[ "$rc" = 0 ] || die "ntb_test.sh exited with $rc"
	if grep -E -i 'error|fail|did not match|not incrementing' /tmp/ntb_test.log >&2; then
		die "ntb_test.sh reported errors"
	fi
	n=$(grep -c 'MBytes/s' /tmp/ntb_test.log || true)
	want=2
	case " $* " in *" -d "*) want=4 ;; esac
	[ "$n" -ge "$want" ] || die "ntb_perf printed $n results, want $want"
	say "ntb_test.sh passed: $(grep -c Passed /tmp/ntb_test.log) Passed, $(grep -c Unsupported /tmp/ntb_test.log) Unsupported"
}

irq_count() {
	grep -c ntb_hw_plx /proc/interrupts || true
}

# Nothing of ntb_hw_plx left: no interrupt handler, no claimed BAR
no_leftovers() {
	local n
	n=$(irq_count)
	[ "$n" = 0 ] || die "$n ntb_hw_plx interrupt handler(s) left: $(grep ntb_hw_plx /proc/interrupts)"
	if grep -q ntb_hw_plx /proc/iomem; then
		die "ntb_hw_plx still holds memory: $(grep ntb_hw_plx /proc/iomem)"
	fi
	[ ! -e /sys/bus/pci/drivers/ntb_hw_plx ] || die "ntb_hw_plx still registered"
}

# Load and unload ntb_hw_plx N times with the clients loaded (they attach
# to every new NTB device); each time exactly one handler while loaded and
# none after.
cycle() {
	local n=${1:-50} pause=${2:-0.5} i c
	for ((i = 1; i <= n; i++)); do
		modprobe ntb_hw_plx || die "cycle $i: load failed"
		ntbdev >/dev/null
		c=$(irq_count)
		[ "$c" = 1 ] || die "cycle $i: $c ntb_hw_plx interrupt handlers"
		sleep "$pause"
		rmmod ntb_hw_plx || die "cycle $i: unload failed"
		no_leftovers
	done
	say "$n load/unload cycles done"
}

# Wait until $1 (a file) reads $2, for at most $3 seconds
wait_for() {
	local f=$1 want=$2 secs=${3:-20} i
	for ((i = 0; i < secs * 10; i++)); do
		[ "$(cat "$f" 2>/dev/null)" = "$want" ] && return 0
		sleep 0.1
	done
	die "$f is '$(cat "$f" 2>/dev/null)', not '$want' after ${secs}s"
}

# The ntb_netdev interface gets 10.77.0.<index+1>/24 and is brought up;
# waits for its carrier
netdev_addr() {
	local ifc
	ifc=$(netdev_wait_ifc)
	ip addr add "10.77.0.$((NTBLAB_NODE_INDEX + 1))/24" dev "$ifc"
	ip link set "$ifc" up
	wait_for "/sys/class/net/$ifc/carrier" 1 60
	say "$ifc up: $(ip -o -4 addr show dev "$ifc" | awk '{print $4}')"
}

# Wait (at most SECS, default 60) until the ntb_netdev interface that exists
# here has its carrier: this node's transport queue is up
netdev_carrier() {
	local secs=${1:-60} ifc
	ifc=$(netdev_ifc)
	[ -n "$ifc" ] || die "no ntb_netdev interface"
	if ! (wait_for "/sys/class/net/$ifc/carrier" 1 "$secs"); then
		transport_state >&2
		die "$ifc has no carrier after ${secs}s"
	fi
	say "$ifc has its carrier"
}

# ntb_transport + ntb_netdev up and addressed; extra args go to
# ntb_transport (e.g. use_dma=1)
netdev_up() {
	setup
	# ntb_transport's buffers: 4 MiB each, allocatable without CMA
	modprobe ntb_transport max_mw_size=4194304 "$@"
	modprobe ntb_netdev
	netdev_addr
}

# With ntb_tool loaded on both nodes: set peer (the peer's address), t and rt
# (ntb_tool's debugfs folder of this node's NTB device and of the peer's), with
# the ssh shim on PATH
tool_dirs() {
	local d rd
	peer=$(peer_ip)
	export PATH=$shim/bin:$PATH
	d=$(ntbdev)
	rd=$(ssh "$peer" ls /sys/bus/ntb/devices | head -n1)
	t=/sys/kernel/debug/ntb_tool/$d
	rt=/sys/kernel/debug/ntb_tool/$rd
}

# With ntb_tool loaded on both nodes: disable and enable our NT port N times;
# each time both this node and the peer must see the link go down and up
# (ntb_tool's link_event blocks until the event arrived).
flap() {
	local n=${1:-5} i t rt peer
	tool_dirs
	for ((i = 1; i <= n; i++)); do
		echo N >"$t/link"
		timeout 20 sh -c "echo N > $t/peer0/link_event" || die "flap $i: no local link-down event"
		ssh "$peer" "timeout 20 sh -c 'echo N > $rt/peer0/link_event'" ||
			die "flap $i: peer saw no link-down event"
		echo Y >"$t/link"
		timeout 20 sh -c "echo Y > $t/peer0/link_event" || die "flap $i: no local link-up event"
		ssh "$peer" "timeout 20 sh -c 'echo Y > $rt/peer0/link_event'" ||
			die "flap $i: peer saw no link-up event"
		say "flap $i: down and up seen on both nodes"
	done
}

# With ntb_tool on both nodes: a scratchpad and a doorbell each way
spad_db_check() {
	local t rt peer v got
	tool_dirs
	v=$((RANDOM * 65536 + RANDOM))
	echo $v >"$t/peer0/spad3"
	got=$(ssh "$peer" cat "$rt/spad3")
	[ "$((got))" = "$v" ] || die "peer scratchpad 3 is $got, wrote $v"
	v=$((RANDOM + 1))
	ssh "$peer" "echo $v > $rt/peer0/spad5"
	got=$(cat "$t/spad5")
	[ "$((got))" = "$v" ] || die "our scratchpad 5 is $got, peer wrote $v"
	ssh "$peer" "echo 'c 0xffff' > $rt/db"
	echo "s 0x20" >"$t/peer_db"
	got=$(ssh "$peer" cat "$rt/db")
	[ "$((got & 0x20))" = 32 ] || die "peer doorbell is $got, rang 0x20"
	ssh "$peer" "echo 'c 0x20' > $rt/db"
	say "scratchpads and doorbells work both ways"
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
no-leftovers) no_leftovers ;;
cycle) cycle "$@" ;;
wait-for) wait_for "$@" ;;
netdev-up) netdev_up "$@" ;;
netdev-addr) netdev_addr ;;
netdev-carrier) netdev_carrier "$@" ;;
ping-wait) ping_wait "$@" ;;
wait-listen) wait_listen "$@" ;;
flap) flap "$@" ;;
spad-db-check) spad_db_check ;;
*) sed -n '4,24p' "$0"; exit 2 ;;
esac
