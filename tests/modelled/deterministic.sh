#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# deterministic.sh CLI SCENARIO OUT: run a batch-mode scenario three times,
# the third beside a CPU hog on every host core. Each run must pass the
# ping-pong check, and the three must give the same bytes: each node's batch
# and console logs, the steps' results and the switch's trace hash
# (docs/modelled-time.md, "Determinism").
set -euo pipefail
cli=$1 scenario=$2 out=$3
here=$(dirname "$0")
rm -rf "$out"
mkdir -p "$out"
hogs=()
stop_hogs() {
	[ ${#hogs[@]} -eq 0 ] || kill "${hogs[@]}" 2>/dev/null || true
	hogs=()
}
trap stop_hogs EXIT
for run in 1 2 3; do
	if [ "$run" = 3 ]; then
		for _ in $(seq "$(nproc)"); do
			(while :; do :; done) &
			hogs+=($!)
		done
	fi
	"$cli" run "$scenario" --out "$out/run$run" --quiet || true   # the checker reports a failed run
	stop_hogs
	python3 "$here/check_results.py" "$out/run$run/results.json" pingpong
done
exec python3 "$here/check_results.py" --same "$out/run1" "$out/run2" "$out/run3"
