#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Run one NTB scenario with ntblab-cli and keep each step's output beside
# results.json as DIR/<node>.<step number>.log (the conformance step's is
# also DIR/ntb_test.log).
# usage: tests/ntb/run.sh NTBLAB_CLI SCENARIO OUTDIR
set -euo pipefail
cli=$1 scenario=$2 out=$3
rc=0
"$cli" run "$scenario" --out "$out" || rc=$?
if [ -f "$out/results.json" ]; then
	python3 - "$out" <<'PY'
import json, sys, os
out = sys.argv[1]
r = json.load(open(os.path.join(out, "results.json")))
for i, s in enumerate(r.get("steps", []), 1):
    text = s.get("stdout", "") + s.get("stderr", "")
    with open(os.path.join(out, f"{s['node']}.step{i:02d}.log"), "w") as f:
        f.write(text)
    if "ntb-test" in s.get("command", ""):
        with open(os.path.join(out, "ntb_test.log"), "w") as f:
            f.write(text)
PY
fi
exit $rc
