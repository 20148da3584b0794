#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Plot PCIe efficiency against TLP payload size, one line per generation.

Left: payload as a share of the raw line rate (encoding, TLP overhead, one ACK and
one UpdateFC DLLP per TLP, SKP ordered sets), with the protocol efficiency alone
(the same for every generation) dashed. Right: payload throughput of an x8 link.

    PYTHONPATH=build/python /usr/bin/python3 python/examples/efficiency_plot.py OUT.png
"""
import argparse

import _path  # noqa: F401

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ntblab import timing  # noqa: E402

PAYLOADS = [4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048]
GENERATIONS = [1, 2, 3, 4]
WIDTH = 8


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="PNG file to write")
    args = ap.parse_args()

    rows = timing.sweep(generations=GENERATIONS, widths=[WIDTH], payloads=PAYLOADS)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    # Generations with the same encoding coincide on the left: draw them apart.
    styles = {1: ("o", "-", 7), 2: ("s", "--", 4), 3: ("o", "-", 7), 4: ("s", "--", 4)}
    for gen in GENERATIONS:
        mine = [r for r in rows if r["generation"] == gen]
        x = [r["payload"] for r in mine]
        share = [r["throughput_gbytes_per_s"] * 8 / r["raw_gbps"] * 100 for r in mine]
        info = timing.generation_info(gen)
        label = f"Gen{gen} ({info['gigatransfers']:g} GT/s, {info['encoding']})"
        marker, line, size = styles[gen]
        left.plot(x, share, marker=marker, linestyle=line, markersize=size, label=label)
        right.plot(x, [r["throughput_gbytes_per_s"] for r in mine], marker=marker,
                   linestyle=line, markersize=size, label=label)
    tlp_only = timing.Link(tlps_per_ack=0, tlps_per_update_fc=0, skp=False)
    with_dllp = timing.Link(tlps_per_ack=1, tlps_per_update_fc=1, skp=True)
    left.plot(PAYLOADS, [tlp_only.efficiency(p) * 100 for p in PAYLOADS], "k--", linewidth=1,
              label="protocol efficiency, TLPs only")
    left.plot(PAYLOADS, [with_dllp.efficiency(p) * 100 for p in PAYLOADS], "k:", linewidth=1,
              label="protocol efficiency, + DLLPs + SKP")
    left.annotate(f"256 B: {tlp_only.efficiency(256) * 100:.2f} % (paper: 93 %)",
                  xy=(256, tlp_only.efficiency(256) * 100), xytext=(6, 94),
                  fontsize=8, arrowprops={"arrowstyle": "->"})
    left.annotate(f"256 B: {with_dllp.efficiency(256) * 100:.1f} %",
                  xy=(256, with_dllp.efficiency(256) * 100), xytext=(600, 70),
                  fontsize=8, arrowprops={"arrowstyle": "->"})
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("TLP payload (bytes)")
        ax.grid(True, which="both", alpha=0.3)
    left.set_ylabel("payload / raw line rate (%)")
    left.set_ylim(0, 102)
    left.set_title("Payload share of the raw line rate\n(1 ACK + 1 UpdateFC per TLP, SKP)", fontsize=10)
    right.set_ylabel(f"payload throughput, x{WIDTH} (GB/s)")
    right.set_title(f"Payload throughput of an x{WIDTH} link")
    left.legend(fontsize=7, loc="lower right")
    right.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(args.out)


if __name__ == "__main__":
    main()
