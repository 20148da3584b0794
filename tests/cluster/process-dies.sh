#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A process of the run dies mid-run: the switch process (WHO=switch) or node1's QEMU
# (WHO=qemu) is killed with SIGKILL from here while a step streams register
# writes through the modelled switch. The run must end soon with exit status 1, say
# which process died and how, write results.json saying so (with the step that
# passed), and leave no QEMU or switch process behind
# (docs/scenario-format.md, "Results").
# Usage: process-dies.sh NTBLAB-CLI SCENARIO OUTDIR switch|qemu
set -u
cli=$1 scenario=$2 out=$3 who=$4
rm -rf "$out"
mkdir -p "$(dirname "$out")"
t0=$(date +%s)
"$cli" run "$scenario" --out "$out" 2>"$out.log" &
pid=$!
fail() { echo "FAIL: $*"; cat "$out.log"; kill -9 $pid 2>/dev/null; exit 1; }
# Kill once the streaming step has run a few seconds (its start: step 1 done).
step1_done() { [ "$(grep -c 'step 1/3 .*: ok' "$out.log" 2>/dev/null)" -ge 2 ]; }
for _ in $(seq 3000); do
    step1_done && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
done
step1_done || fail "the first step never passed on both nodes"
sleep 5
case $who in
    switch) pattern="ntblab-switch --scenario .*--log $out/logs/switch.log"; name="the switch process" ;;
    qemu)   pattern="qemu-system-x86_64 .*file:$out/logs/node1.console.log"; name="node1: QEMU" ;;
    *) fail "WHO must be switch or qemu" ;;
esac
victim=$(pgrep -f -- "$pattern" | head -1)
[ -n "$victim" ] || fail "no $who process of this run found"
t_kill=$(date +%s)
kill -9 "$victim"
echo "killed $who (pid $victim) after $((t_kill - t0)) s"
wait $pid
rc=$?
t_end=$(date +%s)
cat "$out.log"
echo "run ended $((t_end - t_kill)) s after the kill, $((t_end - t0)) s in all"
[ $rc -eq 1 ] || fail "exit status $rc, expected 1"
[ $((t_end - t_kill)) -le 60 ] || fail "the run took $((t_end - t_kill)) s to notice"
grep -q "$name (pid $victim) died: killed by signal 9 (SIGKILL)" "$out.log" ||
    fail "no message naming $name (pid $victim) and SIGKILL"
grep -q "results: $out/results.json" "$out.log" || fail "results.json not reported written"
python3 - "$out/results.json" "$who" "$victim" <<'PY' || fail "results.json is wrong"
import json, sys
r = json.load(open(sys.argv[1]))
who, pid = sys.argv[2], int(sys.argv[3])
assert r["ok"] is False, "ok is not false"
assert "died" in r["error"] and "SIGKILL" in r["error"], r.get("error")
d = r["died"][0]
assert d["process"] == who and d["pid"] == pid and d["how"] == "killed by signal 9 (SIGKILL)", d
if who == "qemu":
    assert d["node"] == "node1", d
names = [s["name"] for s in r["steps"]]
assert names and names.count(names[0]) == 2, names  # the first step, on both nodes
assert all(s["ok"] for s in r["steps"][:2]), "the first step's results were lost"
assert "never reached" not in names, names
assert all(n["kernel_release"] for n in r["nodes"]), r["nodes"]
print("results.json:", r["error"].splitlines()[0])
PY
sleep 0.5
exec "$(dirname "$0")/no-leftovers.sh" "$out"
