#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Ctrl-C during a run: the run stops with status 130, tears the cluster down
# (no QEMU or switch process left) and still writes results.json.
# Usage: interrupt.sh NTBLAB-CLI SCENARIO OUTDIR
set -u
cli=$1 scenario=$2 out=$3
rm -rf "$out"
mkdir -p "$(dirname "$out")"
"$cli" run "$scenario" --out "$out" 2>"$out.log" &
pid=$!
# Interrupt once the guests are up (or after 60 s at the latest).
for _ in $(seq 600); do
    grep -q "guests ready" "$out.log" 2>/dev/null && break
    sleep 0.1
done
grep -q "guests ready" "$out.log" || { echo "FAIL: the cluster never came up"; cat "$out.log"; kill -9 $pid; exit 1; }
kill -INT $pid
wait $pid
rc=$?
cat "$out.log"
[ $rc -eq 130 ] || { echo "FAIL: exit status $rc, expected 130"; exit 1; }
[ -f "$out/results.json" ] || { echo "FAIL: no results.json"; exit 1; }
grep -q '"error": "interrupted"' "$out/results.json" || { echo "FAIL: results.json does not say interrupted"; exit 1; }
sleep 0.5
exec "$(dirname "$0")/no-leftovers.sh" "$out"
