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
    def widths(ax):
        ax.set_xscale("log", base=2)
        ax.set_xticks([1, 2, 4, 8, 16], ["x1", "x2", "x4", "x8", "x16"])
    _common.plot_rtt(rows, path, "gen", "width", lambda g: "Gen%d" % g, "link width (both nodes)",
                     "af_ntb ping-pong vs link generation and width", widths)


def main():
    args = _common.parse_args("link_width", QUESTION)
    iters = args.iters or (200 if args.quick else 1000)
    args.iters = iters
    scenario = functools.partial(ntblab.pingpong_scenario, iters=iters)
    return _common.run_study("link_width", QUESTION, params(args.quick), scenario, plot, args, ["gen", "width"])


if __name__ == "__main__":
    sys.exit(main())
