#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""af_ntb 64 B round trip (p50, p99) against link generation and width, in
modelled time: two nodes back to back, both links at GEN xWIDTH.

  ./ntblab study link_width [--quick] [--out DIR] [--scheduler ADDR]

Full: Gen1..3 x x1, x2, x4, x8, x16 (15 points); --quick: Gen1, Gen3 x x1, x8."""
import functools
import sys

import _common
import ntblab

QUESTION = "How does the af_ntb 64 B socket round trip change with the PCIe link's generation and width?"


def params(quick):
    return {"gen": [1, 3] if quick else [1, 2, 3], "width": [1, 8] if quick else [1, 2, 4, 8, 16]}


def plot(rows, path):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for gen in sorted({r["gen"] for r in rows}):
        pts = sorted((r["width"], r["rtt64_p50_us"], r["rtt64_p99_us"]) for r in rows if r["gen"] == gen)
        if not pts:
            continue
        w, p50, p99 = zip(*pts)
        line, = ax.plot(w, p50, "o-", label="Gen%d p50" % gen)
        ax.plot(w, p99, "x--", color=line.get_color(), label="Gen%d p99" % gen)
    ax.set_xscale("log", base=2)
    ax.set_xticks([1, 2, 4, 8, 16], ["x1", "x2", "x4", "x8", "x16"])
    ax.set_xlabel("link width (both nodes)")
    ax.set_ylabel("64 B round trip, µs (modelled)")
    ax.set_title("af_ntb ping-pong vs link generation and width")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    args = _common.parse_args("link_width", QUESTION)
    iters = args.iters or (200 if args.quick else 1000)
    args.iters = iters
    scenario = functools.partial(ntblab.pingpong_scenario, iters=iters)
    return _common.run_study("link_width", QUESTION, params(args.quick), scenario, plot, args, ["gen", "width"])


if __name__ == "__main__":
    sys.exit(main())
