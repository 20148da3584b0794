#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# JUnit XML as an XML parser reads it (Python's ElementTree), no VM:
# 1. `ntblab-cli junit` on a results.json whose outputs hold bytes XML cannot
#    (NUL and other controls, "]]>", markup): well-formed, one testcase per step and
#    node, the failure's message and the output's tail;
# 2. `ntblab-cli run --junit` of scenarios/two-node.yaml with a QEMU that does
#    not exist: the run stops before booting, and still writes results.json
#    (with schema_version, provenance, scenario_resolved) and JUnit with
#    every step and node skipped and a "(run)" error.
# Usage: junit.sh NTBLAB_CLI REPOSITORY
set -u
cli=$1 root=$2
dir=$(mktemp -d /tmp/ntblab-junit-XXXXXX)
trap 'rm -rf "$dir"' EXIT
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
fails=0
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

# 1. Hostile output. (A results.json file is always UTF-8; invalid UTF-8 that a
#    run has in memory: tests/cli/test_junit.cpp.)
printf '{"scenario": "hostile", "file": "x.yaml", "ok": false, "steps": [
  {"name": "ok <one> & \\"two\\"", "node": "node0", "status": 0, "expect": 0, "ok": true, "timed_out": false,
   "seconds": 0.5, "stdout": "fine\\n", "stderr": "", "line": 3},
  {"name": "fails", "node": "node1", "status": 2, "expect": 0, "ok": false, "timed_out": false, "seconds": 1.25,
   "stdout": "BYTES \\u0000 \\u001b[31m ]]> </system-out> X\\n", "stderr": "why it failed\\n", "line": 4}],
 "scenario_resolved": {"steps": [{"name": "ok <one> & \\"two\\"", "on": ["node0"]}, {"name": "fails", "on": ["node1"]},
                                 {"name": "never", "on": ["node0", "node1"]}]}}\n' >"$dir/results.json"
"$cli" junit "$dir/results.json" --out "$dir/j.xml" || bad "ntblab-cli junit: status $?"
/usr/bin/python3 - "$dir/j.xml" <<'PY' || bad "hostile results: see above"
import sys, xml.etree.ElementTree as E
root = E.parse(sys.argv[1]).getroot()
suites = root.findall("testsuite")
cases = root.findall(".//testcase")
names = [c.get("name") for c in cases]
assert len(suites) == 1 and suites[0].get("name") == "hostile", suites
assert names == ['ok <one> & "two" [node0]', "fails [node1]", "never [node0]", "never [node1]"], names
f = cases[1].find("failure")
assert f is not None and f.get("message") == "exit status 2, expected 0", f
assert "why it failed" in f.text and "]]> </system-out> X" in f.text, f.text
assert "\ufffd" in cases[1].find("system-out").text, cases[1].find("system-out").text
assert [c.find("skipped") is not None for c in cases] == [False, False, True, True]
assert (suites[0].get("tests"), suites[0].get("failures"), suites[0].get("skipped")) == ("4", "1", "2")
print("ok: hostile results.json: well-formed, 4 testcases, the failure and its output")
PY

# 2. run --junit, stopped before boot.
NTBLAB_QEMU="$dir/no-such-qemu" timeout 60 "$cli" run --quiet "$root/scenarios/two-node.yaml" --out "$dir/out" \
  --junit "$dir/run.xml" >"$dir/stdout" 2>"$dir/stderr"
rc=$?
[ "$rc" -eq 1 ] || { bad "run --junit: status $rc (want 1)"; cat "$dir/stderr"; }
/usr/bin/python3 - "$dir/run.xml" "$dir/out/results.json" "$dir/no-such-qemu" <<'PY' || bad "run --junit: see above"
import json, sys, xml.etree.ElementTree as E
root = E.parse(sys.argv[1]).getroot()
cases = root.findall(".//testcase")
names = [c.get("name") for c in cases]
want = ["both guests see the NT virtual function 10b5:87b0 [node0]",
        "both guests see the NT virtual function 10b5:87b0 [node1]",
        "TCP/IP baseline link answers [node0]", "(run)"]
assert names == want, names
assert all(c.find("skipped") is not None for c in cases[:3])
err = cases[3].find("error")
assert err is not None and err.get("message") == "missing " + sys.argv[3] + " (./ntblab builds it)", err.get("message")
r = json.load(open(sys.argv[2]))
for key in ("scenario", "file", "topology", "ok", "error", "steps", "nodes", "died", "switch", "timing"):
    assert key in r, key  # the keys before provenance are all still there
assert r["schema_version"] == 2 and r["ok"] is False
p = r["provenance"]
assert set(p) == {"lab_revision", "qemu", "qemu_version", "kernel_image", "kernel_release", "kernel_build"}, p
assert p["qemu"] == sys.argv[3] and p["qemu_version"] is None, p
assert p["lab_revision"], p
assert r["scenario_resolved"]["name"] == "two-node" and r["scenario_resolved"]["boot_timeout"] == "120s"
print("ok: run --junit before boot: 3 skipped steps and the run's error; results.json has provenance")
PY

[ "$fails" -eq 0 ]
