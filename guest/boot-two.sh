#!/usr/bin/env bash
# ntblab: two-node smoke test.  Builds (or reuses) QEMU and the guest image,
# boots node0 and node1 joined by a virtio-net link (QEMU socket netdev over
# 127.0.0.1), checks the link, the pex8749-nt device and the host-root chroot,
# powers both off and makes sure no QEMU is left.
#
# Usage: guest/boot-two.sh [--keep-dir] [RUNDIR]
#   RUNDIR      where logs go (default: a new /tmp/ntblab-two.XXXXXX)
#   --keep-dir  keep RUNDIR even when every check passes
# Output: one line per check and the timings; last "smoke: N passed, N failed".
# Exit status 0 only if every check passed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=qemu-device/common.sh
. "$here/../qemu-device/common.sh"

keep=0 run=
for a in "$@"; do
    case "$a" in
        --keep-dir) keep=1 ;;
        -*) die "usage: $0 [--keep-dir] [RUNDIR]" ;;
        *) run="$a" ;;
    esac
done
[ -n "$run" ] || run="$(mktemp -d /tmp/ntblab-two.XXXXXX)"
mkdir -p "$run"
ctl="$here/ntblab-guestctl"

ms() { date +%s%3N; }
t_all=$(ms)

qemu="$("$here/../qemu-device/build-qemu.sh" | tail -n 1)"
image="$("$here/build-guest.sh" | tail -n 1)"

pids=() waiters=()
cleanup() {
    local p left=()
    for p in "${waiters[@]}"; do
        pkill -P "$p" 2>/dev/null || true     # the wait-ready under that subshell
        kill "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && left+=("$p"); done
    if [ "${#left[@]}" -gt 0 ]; then
        log "stopping QEMU ${left[*]}"
        kill -TERM "${left[@]}" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "${left[@]}" 2>/dev/null || break
            sleep 0.5
        done
        kill -KILL "${left[@]}" 2>/dev/null || true
    fi
    wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A free TCP port on 127.0.0.1 for the link (node0 listens, node1 connects).
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

# listening PORT: true once something listens on 127.0.0.1:PORT.  Does not
# connect: QEMU's socket netdev accepts exactly one peer.
listening() {
    local hex
    hex="$(printf '%04X' "$1")"
    grep -q "^ *[0-9]*: 0100007F:$hex 00000000:0000 0A" /proc/net/tcp
}

t0=$(ms)
"$here/boot-node.sh" --dir "$run/node0" --qemu "$qemu" --image "$image" \
    --name node0 --ip 10.0.0.1/24 --mac 52:54:00:4e:54:01 \
    --net "listen:127.0.0.1:$port" &
pids+=($!)
for _ in $(seq 100); do listening "$port" && break; sleep 0.05; done
listening "$port" || die "node0 does not listen on 127.0.0.1:$port (see $run/node0/qemu.log)"
t1=$(ms)
"$here/boot-node.sh" --dir "$run/node1" --qemu "$qemu" --image "$image" \
    --name node1 --ip 10.0.0.2/24 --mac 52:54:00:4e:54:02 \
    --net "connect:127.0.0.1:$port" &
pids+=($!)

# Each node is timed from its own QEMU start to its agent's first answer.
for n in 0 1; do
    ( "$ctl" wait-ready "$run/node$n/ctl.sock" --timeout 60 > /dev/null && ms > "$run/node$n/ready.ms" ) &
    waiters+=($!)
done
wait_ok=1
for w in "${waiters[@]}"; do wait "$w" || wait_ok=0; done
for n in 0 1; do
    [ -s "$run/node$n/ready.ms" ] || { wait_ok=0; log "node$n not ready (see $run/node$n/console.log)"; }
done
[ "$wait_ok" = 1 ] || exit 1
echo "boot: node0 ready in $(( $(cat "$run/node0/ready.ms") - t0 )) ms, node1 ready in $(( $(cat "$run/node1/ready.ms") - t1 )) ms (QEMU start to agent answering)"

passed=0 failed=0
check() {
    local what="$1"; shift
    if "$@" > "$run/check.out" 2>&1; then
        passed=$((passed + 1)); echo "ok:   $what"
    else
        failed=$((failed + 1)); echo "FAIL: $what"; sed 's/^/      /' "$run/check.out"
    fi
}
# Commands in the initramfs (busybox) need no host packages.
g0() { "$ctl" run "$run/node0/ctl.sock" --timeout 60 "$@"; }
g1() { "$ctl" run "$run/node1/ctl.sock" --timeout 60 "$@"; }
# shellcheck disable=SC2016 # expanded in the guest
has_pex='for d in /sys/bus/pci/devices/*; do
  [ "$(cat $d/vendor):$(cat $d/device)" = 0x10b5:0x87b0 ] && { echo "${d##*/} 10b5:87b0 class $(cat $d/class)"; exit 0; }
done; exit 1'
# shellcheck disable=SC2016 # expanded in the guest
ext_cfg='for d in /sys/bus/pci/devices/*; do
  [ "$(cat $d/vendor):$(cat $d/device)" = 0x10b5:0x87b0 ] || continue
  s=$(stat -c %s $d/config); echo "config space $s bytes"; [ "$s" -ge 4096 ] && exit 0
done; exit 1'

check "node0 pings node1 (10.0.0.2) over the socket link" g0 --no-chroot -- ping -c 3 -W 5 10.0.0.2
check "node0 sees pex8749-nt (10b5:87b0)" g0 --no-chroot -- sh -c "$has_pex"
check "node1 sees pex8749-nt (10b5:87b0)" g1 --no-chroot -- sh -c "$has_pex"
check "node0 pex8749-nt has PCIe extended config space" g0 --no-chroot -- sh -c "$ext_cfg"
check "node1 runs a host program in the chroot (/usr/bin/env true)" g1 -- /usr/bin/env true
if command -v lspci > /dev/null; then
    check "node1 lspci -nn lists 10b5:87b0" sh -c "g1() { \"$ctl\" run \"$run/node1/ctl.sock\" -- \"\$@\"; }; g1 lspci -nn | grep '10b5:87b0'"
fi
if command -v iperf3 > /dev/null; then
    check "node1 runs host iperf3 --version in the chroot" g1 -- iperf3 --version
fi
status_and_stderr() {
    local rc=0
    "$ctl" run "$run/node0/ctl.sock" -- sh -c 'echo to-stderr >&2; exit 3' \
        2> "$run/stderr.out" > /dev/null || rc=$?
    [ "$rc" = 3 ] && grep -qx to-stderr "$run/stderr.out"
}
check "exit status and stderr come back (sh -c 'exit 3')" status_and_stderr

# Clean shutdown: the agents power the guests off, QEMU exits by itself.
t_off=$(ms)
"$ctl" poweroff "$run/node0/ctl.sock" || true
"$ctl" poweroff "$run/node1/ctl.sock" || true
for _ in $(seq 100); do
    kill -0 "${pids[@]}" 2>/dev/null || break
    sleep 0.1
done
remaining=0
for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && remaining=1; done
check "both QEMUs exited after poweroff" test "$remaining" = 0
echo "shutdown: $(( $(ms) - t_off )) ms; total two-node run: $(( $(ms) - t_all )) ms"
cleanup
check "no QEMU of this run is left" sh -c "! ps -o args= -p $(IFS=,; echo "${pids[*]}") | grep -q qemu"

if [ "$failed" = 0 ] && [ "$keep" = 0 ]; then
    rm -rf "$run"
else
    echo "logs: $run"
fi
echo "smoke: $passed passed, $failed failed"
[ "$failed" = 0 ]
