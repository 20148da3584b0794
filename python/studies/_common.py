# SPDX-License-Identifier: GPL-2.0-only
"""What the studies share: arguments, the sweep, the JSON, the table.

A study is a script in python/studies/ with QUESTION (one line), a points()
function (full or --quick), a scenario function and a plot(rows, path)
function; main() runs it. `./ntblab study NAME` runs python/studies/NAME.py."""
import argparse
import datetime
import json
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
_build_python = os.path.join(os.environ.get("NTBLAB_BUILD_DIR") or os.path.join(_here, "..", "..", "build"), "python")
if os.path.isdir(_build_python) and _build_python not in sys.path:
    sys.path.insert(0, _build_python)

import ntblab  # noqa: E402

FIGURES = ["rtt64_p50_us", "rtt64_p99_us"]


def parse_args(name, doc):
    ap = argparse.ArgumentParser(prog="ntblab study " + name, description=doc)
    ap.add_argument("--out", default=os.path.join("results", "studies", name), help="results folder")
    ap.add_argument("--scheduler", help="address of a running Dask scheduler (default: a local cluster)")
    ap.add_argument("--quick", action="store_true", help="few points, few iterations")
    ap.add_argument("--iters", type=int, help="round trips per point (default: 1000, --quick: 200)")
    ap.add_argument("--workers", type=int, help="local cluster's workers (default: one per 2 cores)")
    return ap.parse_args()


def run_study(name, question, params, scenario, plot, args, columns):
    """Sweep, then write OUT/NAME.json and OUT/NAME.png and print the table."""
    os.makedirs(args.out, exist_ok=True)

    def progress(row):
        fig = row.get("rtt64_p50_us")
        print("[study] point %d %s: %s" % (row["point"], {k: row[k] for k in columns},
                                           "p50 %.2f us" % fig if row.get("ok") and fig is not None
                                           else row.get("error")), flush=True)

    table = ntblab.sweep(params, scenario, args.out, scheduler=args.scheduler, workers=args.workers,
                         progress=progress)
    doc = {"study": name, "question": question, "quick": args.quick, "iters": args.iters,
           "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "clock": "modelled (guest clocks on the model's time, exact mode)", "rows": list(table)}
    with open(os.path.join(args.out, name + ".json"), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    import matplotlib
    matplotlib.use("Agg")
    plot([r for r in table if r.get("ok")], os.path.join(args.out, name + ".png"))
    print(table.format(columns + ["ok"] + FIGURES + ["host_s", "error"]))
    print("results: %s/%s.json, %s/%s.png" % (args.out, name, args.out, name))
    if table.failed:
        print("%d of %d points failed" % (len(table.failed), len(table)), file=sys.stderr)
        return 1
    return 0


def plot_rtt(rows, path, series, x, label, xlabel, title, axes=None):
    """The 64 B round trip's p50 (solid) and p99 (dashed) against `x`, one
    pair of lines per value of `series`; `label(value)` names a pair and
    `axes(ax)`, if given, adjusts the x axis."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for value in sorted({r[series] for r in rows}):
        pts = sorted((r[x], r["rtt64_p50_us"], r["rtt64_p99_us"]) for r in rows if r[series] == value)
        xs, p50, p99 = zip(*pts)
        line, = ax.plot(xs, p50, "o-", label="%s p50" % label(value))
        ax.plot(xs, p99, "x--", color=line.get_color(), label="%s p99" % label(value))
    if axes:
        axes(ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("64 B round trip, µs (modelled)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
