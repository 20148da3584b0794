# SPDX-License-Identifier: GPL-2.0-only
"""A 2-point sweep through the runs API on a local Dask cluster, booting VMs:
the af_ntb 64 B ping-pong in modelled time on Gen1 x1 and Gen3 x8 links."""
import json
import os

import ntblab

OUT = os.environ.get("NTBLAB_STUDIES_OUT", "/tmp/ntblab-studies-sweep")


def test_two_point_sweep():
    def scenario(gen, width):
        return ntblab.pingpong_scenario(gen=gen, width=width, iters=300)

    table = ntblab.sweep([{"gen": 1, "width": 1}, {"gen": 3, "width": 8}], scenario, OUT)
    print(table.format(["point", "gen", "width", "ok", "rtt64_p50_us", "rtt64_p99_us", "rounds", "host_s",
                        "error"]))
    assert len(table) == 2
    assert [(r["gen"], r["width"]) for r in table] == [(1, 1), (3, 8)]
    for r in table:
        assert r["ok"], r["error"]
        assert r["guest_clock"] == "modelled"
        for k in ("late_effects", "grant_overruns", "requests_in_past", "protocol_errors"):
            assert r[k] == 0, (k, r)
        assert 0.5 < r["rtt64_p50_us"] <= r["rtt64_p99_us"] < 50, r
        assert r["rounds"] > 0
        with open(os.path.join(r["out"], "results.json")) as f:
            assert json.load(f)["ok"]
    slow, fast = table
    assert slow["rtt64_p50_us"] > fast["rtt64_p50_us"], (slow, fast)
    # Gen1 x1 serialises af_ntb's TLPs ~20 times slower than Gen3 x8; with
    # 300 round trips the difference measured 2.2 us (6.62 vs 4.38 us p50).
    assert slow["rtt64_p50_us"] - fast["rtt64_p50_us"] > 0.2
    with open(os.path.join(OUT, "sweep.json")) as f:
        assert len(json.load(f)) == 2
