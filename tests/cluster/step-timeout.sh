#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Runs tests/cluster/step-timeout.yaml: the run must fail because step A timed
# out (and say so in results.json), while step B, which checked what the
# timeout killed, passed.
# usage: step-timeout.sh NTBLAB_CLI SCENARIO OUTDIR
set -uo pipefail
cli=$1 scenario=$2 out=$3
rm -rf "$out"
"$cli" run "$scenario" --out "$out"
rc=$?
[ "$rc" = 1 ] || { echo "FAIL: exit status $rc, expected 1 (a step timed out)"; exit 1; }
python3 - "$out/results.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
steps = {s["name"][0]: s for s in r["steps"]}
a, b = steps["A"], steps["B"]
assert a["timed_out"] and not a["ok"], f"step A: {a}"
assert b["ok"], f"step B failed: status {b['status']}\n{b['stdout']}{b['stderr']}"
print("ok: A timed out; B:", b["stdout"].strip())
PY
