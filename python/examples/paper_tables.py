#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Print the seed paper's Tables 1 and 2 as the ntblab timing model computes them.

The paper ("A Study on Implementation of Socket communication through PCI
Express") quotes a protocol efficiency of 93 % at 256-byte payloads (Table 1, from
Medury 2010) and raw rates per generation and width (Table 2). The model computes
both; where the paper's printed cell differs from the model, it is flagged.

    PYTHONPATH=build/python /usr/bin/python3 python/examples/paper_tables.py
"""
import _path  # noqa: F401  (build/python on sys.path when run from the tree)

from ntblab import timing

# The paper's Table 2 as printed, Gbps.
PAPER_TABLE2 = {
    1: [2.5, 5, 10, 20, 60],
    2: [5, 10, 20, 40, 80],
    3: [8, 16, 32, 64, 128],
}
WIDTHS = [1, 2, 4, 8, 16]
PAYLOAD = 256


def table1():
    tlp_only = timing.Link(generation=1, width=1, tlps_per_ack=0, tlps_per_update_fc=0, skp=False)
    with_dllp = timing.Link(generation=1, width=1, tlps_per_ack=1, tlps_per_update_fc=1, skp=True)
    eff = tlp_only.efficiency(PAYLOAD)
    eff_dllp = with_dllp.efficiency(PAYLOAD)
    of_raw = with_dllp.payload_gbytes_per_s(PAYLOAD) * 8 / with_dllp.raw_gbps()
    gen3 = timing.Link(generation=3, width=8)
    path = timing.Path.uniform(gen3, 1)
    print("Table 1  Protocol efficiency (payload 256 B) and end-to-end latency")
    print(f"  {'':34}{'paper':>10}{'model':>12}")
    print(f"  {'PCIe, TLPs only (3DW header)':34}{'93 %':>10}{eff * 100:>11.2f} %"
          f"   = 256 / (256 + 8 + 12)")
    print(f"  {'PCIe, + 1 ACK + 1 UpdateFC + SKP':34}{'':>10}{eff_dllp * 100:>11.2f} %"
          f"   (Gen1: {of_raw * 100:.1f} % of the raw lane rate)")
    print(f"  {'Ethernet':34}{'86 %':>10}{'(quoted)':>12}")
    print(f"  {'InfiniBand':34}{'88 %':>10}{'(quoted)':>12}")
    w = path.write(PAYLOAD)["latency_ns"]
    r = path.read(PAYLOAD)["latency_ns"]
    print(f"  {'PCIe latency, 1 switch hop Gen3 x8':34}{'~1 us':>10}"
          f"   write {w:.0f} ns, read {r:.0f} ns (no host software)")
    print()


def table2():
    print("Table 2  Raw rate by generation and width, Gbps (model = GT/s x lanes)")
    print("  " + f"{'':8}" + "".join(f"{'x' + str(w):>18}" for w in WIDTHS))
    typos = []
    for gen in (1, 2, 3, 4):
        cells = []
        for i, w in enumerate(WIDTHS):
            model = timing.raw_gbps(gen, w)
            paper = PAPER_TABLE2.get(gen, [None] * 5)[i]
            if paper is None:
                cells.append(f"{model:g}")
            elif paper == model:
                cells.append(f"{model:g}")
            else:
                cells.append(f"{model:g} (paper {paper:g})*")
                typos.append((gen, w, paper, model))
        print("  " + f"{'Gen' + str(gen):8}" + "".join(f"{c:>18}" for c in cells))
    print("  (Gen4 is not in the paper.)")
    for gen, w, paper, model in typos:
        info = timing.generation_info(gen)
        print(f"  * typo in the paper: Gen{gen} x{w} is printed as {paper:g} Gbps; "
              f"{info['gigatransfers']:g} GT/s x {w} lanes = {model:g} Gbps")


if __name__ == "__main__":
    table1()
    table2()
