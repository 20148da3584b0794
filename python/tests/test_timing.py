# SPDX-License-Identifier: GPL-2.0-only
"""ntblab.timing: the link arithmetic and path model from Python."""
import os
import subprocess
import sys

import pytest

import ntblab
from ntblab import timing

from conftest import EXAMPLES

PAPER_TABLE2 = {1: [2.5, 5, 10, 20, 60], 2: [5, 10, 20, 40, 80], 3: [8, 16, 32, 64, 128]}
WIDTHS = [1, 2, 4, 8, 16]
GEN3X8_BYTES_PER_NS = 8 * 8.0 * 128 / 130 / 8


def test_table2_all_cells_but_the_gen1_x16_typo():
    wrong = []
    for gen, row in PAPER_TABLE2.items():
        for width, paper in zip(WIDTHS, row):
            if timing.raw_gbps(gen, width) != paper:
                wrong.append((gen, width))
    assert wrong == [(1, 16)]
    assert timing.raw_gbps(1, 16) == 40.0


def test_table1_efficiencies():
    tlp_only = timing.Link(tlps_per_ack=0, tlps_per_update_fc=0, skp=False)
    assert tlp_only.efficiency(256) == pytest.approx(256 / 276)
    assert round(tlp_only.efficiency(256) * 100) == 93
    with_dllp = timing.Link(generation=1, width=1)
    assert with_dllp.efficiency(256) * 100 == pytest.approx(87.4, abs=0.05)


@pytest.mark.parametrize("width,gbs", [(4, 3.65), (8, 7.31), (16, 14.61)])
def test_facts_bandwidths(width, gbs):
    link = timing.Link(generation=3, width=width, tlps_per_ack=0, tlps_per_update_fc=0, skp=False)
    assert link.payload_gbytes_per_s(256) == pytest.approx(gbs, abs=0.005)


def test_one_hop_write_latency_formula():
    link = timing.Link(generation=3, width=8, propagation_ns=2.0)
    path = timing.Path.uniform(link, 1, hop_latency_ns=126.0)
    ser = 28 / GEN3X8_BYTES_PER_NS
    assert path.write(8)["latency_ns"] == pytest.approx(2 * (ser + 2.0) + 126.0)
    assert path.hops == 1
    # A path from a list of links, mixed Link objects and dicts.
    mixed = timing.Path([link, {"generation": 3, "width": 8, "propagation_ns": 2.0}], 126.0)
    assert mixed.write(8)["latency_ns"] == pytest.approx(path.write(8)["latency_ns"])
    # Read: request out and completion back take longer than the write.
    assert path.read(64)["latency_ns"] > path.write(64)["latency_ns"]


def test_sweep_rows_and_trends():
    rows = timing.sweep(generations=[1, 3], widths=[4, 8], payloads=[64, 256, 1024],
                        header_bytes=[12, 16], hops=[0, 2])
    assert len(rows) == 2 * 2 * 3 * 2 * 2
    sel = [r for r in rows if r["generation"] == 3 and r["width"] == 8 and r["header_bytes"] == 12
           and r["hops"] == 0]
    effs = [r["efficiency"] for r in sorted(sel, key=lambda r: r["payload"])]
    assert effs == sorted(effs) and effs[0] < effs[-1]
    two = [r for r in rows if r["hops"] == 2 and r["payload"] == 64 and r["generation"] == 3
           and r["width"] == 8 and r["header_bytes"] == 12][0]
    zero = [r for r in sel if r["payload"] == 64][0]
    assert two["write_latency_ns"] > zero["write_latency_ns"] + 2 * 126.0
    assert [r["max_payload"] for r in rows if r["payload"] == 1024][0] == 1024


def test_config_errors_name_the_field():
    with pytest.raises(ntblab.ConfigError) as e:
        timing.Link(width=3)
    assert e.value.field == "width"
    assert isinstance(e.value, ValueError)
    with pytest.raises(ntblab.ConfigError) as e:
        timing.Link(max_payload=100)
    assert e.value.field == "max_payload"
    with pytest.raises(ntblab.ConfigError) as e:
        timing.raw_gbps(5, 8)
    assert e.value.field == "generation"
    with pytest.raises(ntblab.ConfigError) as e:
        timing.Link().efficiency(-1)
    assert e.value.field == "payload"
    with pytest.raises(ntblab.ConfigError) as e:
        timing.Link(width=-8)
    assert e.value.field == "width"
    with pytest.raises(ntblab.ConfigError) as e:
        timing.Link(witdh=8)
    assert e.value.field == "witdh"
    with pytest.raises(ntblab.ConfigError) as e:
        timing.Path.uniform(timing.Link(), 1).write(-4096)
    assert e.value.field == "bytes"
    with pytest.raises(ntblab.ConfigError) as e:
        timing.sweep(payloads=[4096])
    assert e.value.field == "payloads"


def test_credit_throttle_from_python():
    link = timing.Link(posted_header_credits=2, posted_data_credits=32,
                       tlps_per_ack=0, tlps_per_update_fc=0, skp=False)
    assert link.credit_window(256) == 2
    assert link.stream_gbytes_per_s(256) == pytest.approx(2 * 256 / link.credit_round_trip_ns(256))
    assert link.stream_gbytes_per_s(256) < link.payload_gbytes_per_s(256)


def test_paper_tables_example_flags_the_typo(example_env):
    out = subprocess.run([sys.executable, os.path.join(EXAMPLES, "paper_tables.py")],
                         env=example_env, capture_output=True, text=True, check=True).stdout
    assert "92.75 %" in out
    assert "87.44 %" in out
    assert "typo in the paper: Gen1 x16 is printed as 60 Gbps" in out


def test_efficiency_plot_writes_a_png(tmp_path, example_env):
    png = tmp_path / "efficiency.png"
    subprocess.run([sys.executable, os.path.join(EXAMPLES, "efficiency_plot.py"), str(png)],
                   env=example_env, check=True, capture_output=True)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000
