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
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for topo in ("back-to-back", "fabric"):
        pts = sorted((r["hop_ns"], r["rtt64_p50_us"], r["rtt64_p99_us"]) for r in rows if r["topology"] == topo)
        if not pts:
            continue
        h, p50, p99 = zip(*pts)
        line, = ax.plot(h, p50, "o-", label="%s p50" % topo)
        ax.plot(h, p99, "x--", color=line.get_color(), label="%s p99" % topo)
    ax.set_xlabel("hop latency per switch chip, ns")
    ax.set_ylabel("64 B round trip, µs (modelled)")
    ax.set_title("af_ntb ping-pong vs switch hop latency (Gen3 x8)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    args = _common.parse_args("hop_latency", QUESTION)
    args.iters = args.iters or (200 if args.quick else 1000)
    return _common.run_study("hop_latency", QUESTION, params(args.quick),
                             functools.partial(scenario, iters=args.iters), plot, args, ["topology", "hop_ns"])


if __name__ == "__main__":
    sys.exit(main())
