#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Check a modelled-time run's results.json (tests/modelled/CMakeLists.txt).

  check_results.py RESULTS pingpong       af_ntb ping-pong: modelled, plausible
  check_results.py RESULTS read-latency   each read took the model's latency
  check_results.py --same DIR DIR...      batch-mode runs (ntblab run --out DIR)
                                          gave the same bytes: each node's batch
                                          and console logs, the trace hash

Common to both: the run passed, the guests were on modelled time and the
switch's counters that must stay 0 are 0 (docs/modelled-time.md).
"""
import json
import sys

# What the guest's TSC adds around one read (ntbmmio read-ticks: the load,
# the loop), in instructions at 1 ns each. Found by the first run: 2-3.
SLACK_NS = 8


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def last_json(text):
    return json.loads(text[text.rfind("\n{") + 1:] if "\n{" in text else text)


def first_difference(a, b):
    """Where two byte strings part: offset and a little of each."""
    n = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
    return "at byte %d of %d/%d: %r vs %r" % (n, len(a), len(b), a[n:n + 40], b[n:n + 40])


def same(dirs):
    """Determinism: what two runs of one scenario and seed must share."""
    ref = json.load(open(dirs[0] + "/results.json"))
    for d in dirs[1:]:
        r = json.load(open(d + "/results.json"))
        for node, other in zip(ref["nodes"], r["nodes"]):
            for log in ("batch_log", "console_log"):
                if log not in node:
                    fail("%s: no %s for %s (not a batch-mode run?)" % (dirs[0], log, node["name"]))
                a, b = open(node[log], "rb").read(), open(other[log], "rb").read()
                if a != b:
                    fail("%s of %s differs between %s and %s, %s"
                         % (log, node["name"], dirs[0], d, first_difference(a, b)))
        h1, h2 = ref["timing"]["sync"]["trace_hash"], r["timing"]["sync"]["trace_hash"]
        if h1 != h2:
            fail("trace hash %s in %s, %s in %s" % (h1, dirs[0], h2, d))
        for k in ("stdout", "stderr", "status", "guest_start_ns", "guest_end_ns"):
            if [st.get(k) for st in ref["steps"]] != [st.get(k) for st in r["steps"]]:
                fail("steps' %s differ between %s and %s" % (k, dirs[0], d))
    print("ok: %d runs, identical logs, trace hash %s" % (len(dirs), ref["timing"]["sync"]["trace_hash"]))


def main():
    if sys.argv[1] == "--same":
        return same(sys.argv[2:])
    path, kind = sys.argv[1], sys.argv[2]
    r = json.load(open(path))
    if not r.get("ok"):
        fail("the run failed: %s" % r.get("error", "a step failed"))
    t = r.get("timing", {})
    if t.get("guest_clock") != "modelled":
        fail("guests not on modelled time: %s" % t)
    s = t.get("sync")
    if not s:
        fail("no sync statistics in results.json")
    for k in ("late_effects", "grant_overruns", "requests_in_past", "protocol_errors"):
        if s[k] != 0:
            fail("%s = %s, must be 0" % (k, s[k]))
    if s["deadlock"]:
        fail("the run deadlocked")
    if s.get("exact_since_ns") is None:
        fail("the exact-time marker was not taken")
    steps = {st["name"]: st for st in r["steps"]}
    if kind == "pingpong":
        out = last_json(steps["ping-pong 64 B"]["stdout"])
        res = out["results"][0]
        # TCG in free mode gives ~60 us; the model's path is ~0.3 us each
        # way, plus af_ntb's software at 1 ns per instruction.
        if not 0.5 < res["p50_us"] < 20:
            fail("64 B p50 %.2f us is not a modelled round trip" % res["p50_us"])
        if res["p50_us"] < res["min_us"] or res["max_us"] < res["p99_us"]:
            fail("inconsistent percentiles: %s" % res)
        print("ok: p50 %.2f us, p99 %.2f us, %d rounds" % (res["p50_us"], res["p99_us"], s["rounds"]))
    elif kind == "read-latency":
        by_bar = s["mmio_read_ns_by_bar"]
        for step, bar in (("window read (BAR2), ticks", "2"), ("register read (BAR0), ticks", "0")):
            lo, p50, hi, over = (int(x) for x in steps[step]["stdout"].split())
            model_lo, model_hi = by_bar[bar]
            if model_lo != model_hi:
                fail("BAR%s reads took %d..%d ns in the model; expected one figure" % (bar, model_lo, model_hi))
            guest = lo - over
            if not model_lo <= guest <= model_lo + SLACK_NS:
                fail("BAR%s read: the guest's clock saw %d ns, the model says %d ns" % (bar, guest, model_lo))
            if hi - lo > SLACK_NS:
                fail("BAR%s read: %d..%d ticks, not one figure" % (bar, lo, hi))
            print("ok: BAR%s read %d ns in the guest, %d ns in the model" % (bar, guest, model_lo))
        # The posted write: sender's TSC at the store, receiver's TSC when its
        # poll loop (a handful of instructions a turn) sees the data.
        oneway = int(steps["one-way time of the 8-byte posted write, ticks"]["stdout"].split()[-1])
        model = s["posted_write_ns_by_bytes"]["8"][0]
        if not model <= oneway <= model + 2 * SLACK_NS:
            fail("8-byte posted write: the guests' clocks saw %d ns, the model says %d ns" % (oneway, model))
        print("ok: 8-byte posted write %d ns one way in the guests, %d ns in the model" % (oneway, model))
    else:
        fail("unknown check " + kind)


if __name__ == "__main__":
    main()
