#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""af_ntb 64 B round trip (p50, p99) against the switch hop latency
(switch.hop_latency: every PEX8749 on the path, NT chips and fabric switch)
and the hop count: back-to-back (two NT chips on the path) vs fabric (two NT
chips and the transparent fabric switch), Gen3 x8 links, modelled time.

  ./ntblab study hop_latency [--quick] [--out DIR] [--scheduler ADDR]

Full: 0, 126, 252, 500 ns x back-to-back, fabric (8 points); --quick: 126 and
500 ns on back-to-back and fabric (4 points)."""
import functools
import sys

import _common
import ntblab

QUESTION = "How does the af_ntb 64 B socket round trip change with the switch hop latency and the hop count?"


def params(quick):
    return {"topology": ["back-to-back", "fabric"], "hop_ns": [126, 500] if quick else [0, 126, 252, 500]}


def scenario(topology, hop_ns, iters):
    return ntblab.pingpong_scenario(topology=topology, hop_latency="%dns" % hop_ns, iters=iters,
                                    name="pingpong-%s-hop%dns" % (topology, hop_ns))


def plot(rows, path):
    _common.plot_rtt(rows, path, "topology", "hop_ns", str, "hop latency per switch chip, ns",
                     "af_ntb ping-pong vs switch hop latency (Gen3 x8)")


def main():
    args = _common.parse_args("hop_latency", QUESTION)
    args.iters = args.iters or (200 if args.quick else 1000)
    return _common.run_study("hop_latency", QUESTION, params(args.quick),
                             functools.partial(scenario, iters=args.iters), plot, args, ["topology", "hop_ns"])


if __name__ == "__main__":
    sys.exit(main())
