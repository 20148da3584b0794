# SPDX-License-Identifier: GPL-2.0-only
"""ntblab.SwitchModel: the SystemC model from Python.

SystemC elaborates once per process, so each case runs in a fresh interpreter.
"""
import json
import os
import subprocess
import sys


def run(code):
    env = dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1")
    out = subprocess.run([sys.executable, "-c", "import json, ntblab\n" + code],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_agrees_with_the_analytic_path():
    r = run("""
m = ntblab.SwitchModel(gen=3, width=8)
p = ntblab.timing.Path([ntblab.timing.Link(generation=3, width=8)] * 3)
print(json.dumps({"w": m.write(8)["latency_ns"], "pw": p.write(8)["latency_ns"],
                  "r": m.read(4)["latency_ns"], "pr": p.read(4)["latency_ns"]}))
""")
    assert abs(r["w"] - r["pw"]) < 0.05 * r["pw"]
    assert abs(r["r"] - r["pr"]) < 0.05 * r["pr"]
    assert r["r"] > 1.9 * r["w"]   # a read crosses everything twice


def test_stream_reaches_link_rate_and_is_counted():
    r = run("""
m = ntblab.SwitchModel(gen=3, width=8)
s = m.stream(16 << 20)
print(json.dumps({"gbps": s["gbytes_per_s"], "bytes": m.stats()["cable"]["a_to_b"]["payload_bytes"]}))
""")
    assert 6.0 < r["gbps"] < 7.31          # Gen3 x8 with DLLPs and SKP: 6.79 GB/s
    assert r["bytes"] >= 16 << 20


def test_narrower_link_is_slower():
    r = run("""
m = ntblab.SwitchModel(gen=2, width=4)
print(json.dumps({"gbps": m.stream(4 << 20)["gbytes_per_s"]}))
""")
    assert r["gbps"] < 2.0                 # Gen2 x4: 2 GB/s raw after 8b/10b


def test_one_model_per_process_and_bad_config():
    r = run("""
m = ntblab.SwitchModel()
try:
    ntblab.SwitchModel()
    second = "accepted"
except RuntimeError as e:
    second = str(e)
print(json.dumps({"second": second}))
""")
    assert "one SwitchModel per process" in r["second"]
    r = run("""
try:
    ntblab.SwitchModel(width=3)
    err = None
except ntblab.ConfigError as e:
    err = e.field
print(json.dumps({"field": err}))
""")
    assert r["field"].endswith("width")
