# SPDX-License-Identifier: GPL-2.0-only
"""The runs API without a VM: scenario generation and overrides, the lab's
loader refusing a field (ScenarioError naming it), and a sweep on a local
Dask cluster whose every point is impossible: each fails alone, in its row."""
import os

import pytest

import ntblab


def test_pingpong_scenario_is_valid_and_carries_its_parameters():
    s = ntblab.pingpong_scenario(gen=1, width=4, iters=123, topology="fabric", hop_latency="252ns")
    assert s.get("nodes[0].link") == {"gen": 1, "width": 4} == s.get("nodes[1].link")
    assert s.get("switch.hop_latency") == "252ns"
    assert s.get("timing.mode") == "exact" and "batch" in s.data
    assert "--iters 123" in s.get("steps[3].run")
    assert "fabric, 2 nodes, 4 steps, timing exact" in s.validate()


def test_override_by_path_and_yaml_round_trip(tmp_path):
    s = ntblab.pingpong_scenario()
    s.set("nodes[*].link.gen", 2).set("nodes[1].memory", "512MiB").set("switch.hop_latency", "0ns")
    assert [n["link"]["gen"] for n in s.data["nodes"]] == [2, 2]
    back = ntblab.Scenario.load(s.write(str(tmp_path / "x.yaml")))
    assert back.data == s.data
    assert back.get("steps[0].on") == "all"  # YAML 1.2: `on` is a key, not true
    s.set("switch", None)
    assert "switch" not in s.data
    with pytest.raises(ntblab.ScenarioError) as e:
        s.set("nodes[7].link.gen", 1)
    assert e.value.field == "nodes[7]"
    with pytest.raises(ntblab.ScenarioError):
        s.set("nodes..gen", 1)


@pytest.mark.parametrize("path,value,field,words", [
    ("nodes[1].link.gen", 4, "nodes[1].link.gen", "out of range"),
    ("nodes[0].link.width", 3, "nodes[0].link.width", ""),
    ("nodes[0].memory", "256MB", "nodes[0].memory", "not a size"),
    ("timing.mode", "fast", "timing.mode", ""),
    ("nodes[0].colour", "red", "nodes[0]", "colour"),
])
def test_a_bad_field_is_an_exception_naming_it(path, value, field, words):
    s = ntblab.pingpong_scenario().set(path, value)
    with pytest.raises(ntblab.ScenarioError) as e:
        s.validate()
    assert e.value.field.startswith(field), e.value
    assert words in str(e.value)
    assert e.value.line > 0


def test_run_refuses_before_booting(tmp_path):
    # ntblab-cli refuses the scenario (exit 2) before anything boots; run()
    # raises the loader's error as a ScenarioError.
    with pytest.raises(ntblab.ScenarioError) as e:
        ntblab.run(ntblab.pingpong_scenario(), str(tmp_path / "run"), overrides={"nodes[*].link.gen": 9})
    assert e.value.field == "nodes[0].link.gen"
    assert not os.path.exists(tmp_path / "run" / "results.json")


def test_points_and_workers():
    assert ntblab.points({"a": [1, 2], "b": ["x", "y", "z"]})[:2] == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}]
    assert len(ntblab.points({"a": [1, 2], "b": ["x", "y", "z"]})) == 6
    assert ntblab.default_workers(cores=2) == 1 and ntblab.default_workers(cores=16) == 8
    with pytest.raises(ValueError):
        ntblab.points({"a": 3})


def test_impossible_points_fail_alone_on_a_local_dask_cluster(tmp_path):
    rows = []
    table = ntblab.sweep({"gen": [4, 0], "width": [8, 32]}, ntblab.pingpong_scenario, str(tmp_path),
                         progress=rows.append)
    assert len(table) == 4 == len(rows)
    assert [r["point"] for r in table] == [0, 1, 2, 3]
    assert [(r["gen"], r["width"]) for r in table] == [(4, 8), (4, 32), (0, 8), (0, 32)]
    for r in table:
        assert r["ok"] is False
        assert r["error_field"] == "nodes[0].link.gen", r
        assert os.path.isdir(r["out"]) and not os.path.exists(os.path.join(r["out"], "results.json"))
    assert len(table.failed) == 4
    assert os.path.exists(tmp_path / "sweep.json")
    # A bad path fails its point on the client, before Dask.
    t2 = ntblab.sweep({"nodes[5].link.gen": [1]}, ntblab.pingpong_scenario(), str(tmp_path / "b"))
    assert t2[0]["error_field"] == "nodes[5]"
