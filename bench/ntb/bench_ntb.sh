#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# NTB benchmark: boots two back-to-back nodes and measures, with Linux's own
# tools on ntb_hw_plx,
#   ntb_perf_cpu_mb_per_s    ntb_perf use_dma=0 (CPU memcpy into the window)
#   ntb_perf_dma_mb_per_s    ntb_perf use_dma=1 (plx_dma on the switch's DMA)
#   ntb_netdev_tcp_mb_per_s  iperf3 TCP, 5 s, over ntb_netdev (ntb_transport
#                            use_dma=1)
# The ntb_perf figures are ntb_perf's own "MBytes/s"; iperf3's is the
# receiver's bytes per second / 10^6. Prints "name value" lines and writes
# DIR/ntb.json (flat object). Run logs go to DIR/run/.
#
# usage: bench/ntb/bench_ntb.sh [--out DIR]   (or build/bench/bench_ntb)
# env:   NTBLAB_CLI, NTBLAB_SWITCH (default: the build/ of the repository),
#        NTBLAB_QEMU... (from ci/build-lab.sh, run here when unset)
set -euo pipefail
# $0 may be build/bench/bench_ntb, a link to this file.
root=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
out=results/bench
while [ $# -gt 0 ]; do
	case $1 in
	--out) out=$2; shift 2 ;;
	--out=*) out=${1#--out=}; shift ;;
	*) echo "usage: $0 [--out DIR]" >&2; exit 2 ;;
	esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
cli=${NTBLAB_CLI:-$root/build/cli/ntblab-cli}
export NTBLAB_SWITCH=${NTBLAB_SWITCH:-$root/build/switch/ntblab-switch}
export NTBLAB_ROOT=$root
[ -x "$cli" ] || { echo "no $cli (build first)" >&2; exit 1; }
if [ -z "${NTBLAB_QEMU:-}" ]; then
	eval "$("$root/ci/build-lab.sh" | sed 's/^/export /')"
fi

scn=$(mktemp --suffix=.yaml)
trap 'rm -f "$scn"' EXIT
cat >"$scn" <<'YAML'
name: bench-ntb
topology: back-to-back
nodes:
  - {name: node0}
  - {name: node1}
steps:
  - name: setup
    on: all
    run: '"$NTBLAB_ROOT/tests/ntb/guest.sh" setup'
    timeout: 90s
  - name: load ntb_perf cpu
    on: all
    run: modprobe ntb_perf use_dma=0 total_order=22 max_mw_size=4194304 && sleep 2
  - name: perf-cpu
    on: node0
    run: 'D=$(ls /sys/bus/ntb/devices); P=/sys/kernel/debug/ntb_perf/$D; echo 0 > $P/run && cat $P/run'
    timeout: 300s
  - name: unload ntb_perf
    on: all
    run: rmmod ntb_perf
  - name: load ntb_perf dma
    on: all
    run: modprobe ntb_perf use_dma=1 total_order=30 max_mw_size=4194304 && sleep 2
  - name: perf-dma
    on: node0
    run: 'D=$(ls /sys/bus/ntb/devices); P=/sys/kernel/debug/ntb_perf/$D; echo 0 > $P/run && cat $P/run'
    timeout: 300s
  - name: unload ntb_perf again
    on: all
    run: rmmod ntb_perf
  - name: ntb_netdev up
    on: all
    run: '"$NTBLAB_ROOT/tests/ntb/guest.sh" netdev-up use_dma=1'
    timeout: 90s
  - name: iperf3 server
    on: node1
    run: iperf3 -s -D -1 -B 10.77.0.2
  - name: iperf3
    on: node0
    run: iperf3 -c 10.77.0.2 -t 5 -J
    timeout: 60s
  - name: kernel log
    on: all
    run: '"$NTBLAB_ROOT/tests/ntb/guest.sh" check-log bench'
YAML

"$cli" run "$scn" --out "$out/run" >"$out/run.log" 2>&1 || {
	tail -n 30 "$out/run.log" >&2
	echo "bench_ntb: the run failed (see $out/run/results.json)" >&2
	exit 1
}
python3 - "$out" <<'PY'
import json, re, sys, os
out = sys.argv[1]
r = json.load(open(os.path.join(out, "run", "results.json")))
steps = {s["name"]: s for s in r["steps"] if s["node"] == "node0"}
def perf(name):
    m = re.findall(r"copied \d+ bytes in \d+ usecs, (\d+) MBytes/s", steps[name]["stdout"])
    if not m:
        sys.exit(f"bench_ntb: no ntb_perf result in step {name}: {steps[name]['stdout']!r}")
    return float(m[0])
ip = json.loads(steps["iperf3"]["stdout"])
fig = {
    "ntb_perf_cpu_mb_per_s": perf("perf-cpu"),
    "ntb_perf_dma_mb_per_s": perf("perf-dma"),
    "ntb_netdev_tcp_mb_per_s": round(ip["end"]["sum_received"]["bytes"] /
                                     ip["end"]["sum_received"]["seconds"] / 1e6, 2),
}
for k, v in fig.items():
    print(k, v)
json.dump(fig, open(os.path.join(out, "ntb.json"), "w"), indent=1)
PY
