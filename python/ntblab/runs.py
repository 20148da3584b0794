# SPDX-License-Identifier: GPL-2.0-only
"""Run a scenario from Python: write it, run `ntblab-cli run` on it, read its
results.json (docs/scenario-format.md, "Results") into Python objects.

Python over the CLI, not a binding of the runner: a run boots QEMU guests and
the switch process and must tear them down on every way out (the runner does,
on SIGINT/SIGTERM too); in a child process it does so however the Python side
ends, a Dask worker can run it without loading SystemC, and the CLI stays the
one runner that `./ntblab run`, the tests and the benchmarks use.
"""
import ctypes
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass

from . import lab as _lab
from .scenario import Scenario, ScenarioError, parse_error


class RunError(RuntimeError):
    """A run that did not pass: it stopped early (``results.error``) or a step
    failed. ``results`` holds what it wrote (None if it wrote nothing)."""

    def __init__(self, message, results=None):
        super().__init__(message)
        self.results = results

    def __reduce__(self):
        return (RunError, (str(self), self.results))


class RunInterrupted(RunError):
    """The run was stopped from outside (Ctrl-C, a sweep being cancelled); the
    runner tore its cluster down."""


@dataclass
class Step:
    """One step on one node (results.json's steps[])."""
    name: str
    node: str
    ok: bool
    status: object  # exit status, None if it never ended
    timed_out: bool
    seconds: object  # host seconds (None in batch mode)
    guest_seconds: object  # on the guest's clock: modelled time in modelled runs
    stdout: str
    stderr: str

    def json(self):
        """The last JSON object the step printed (e.g. a benchmark's --json
        line), or None."""
        text = self.stdout.rstrip()
        for start in [i for i, c in enumerate(text) if c == "{" and (i == 0 or text[i - 1] == "\n")][::-1]:
            try:
                return json.loads(text[start:])
            except ValueError:
                continue
        return None


class Results:
    """A run's results.json as Python objects; ``raw`` is the whole file."""

    def __init__(self, raw, out_dir=None, host_seconds=None):
        self.raw = raw
        self.out_dir = out_dir
        self.host_seconds = host_seconds  # the whole `ntblab-cli run`, as Python timed it
        self.ok = bool(raw.get("ok"))
        self.error = raw.get("error")
        self.scenario = raw.get("scenario")
        self.boot_s = raw.get("boot_s")
        self.timing = raw.get("timing") or {}
        self.sync = self.timing.get("sync") or {}
        self.switch = raw.get("switch")
        self.steps = [Step(name=s.get("name"), node=s.get("node"), ok=bool(s.get("ok")), status=s.get("status"),
                           timed_out=bool(s.get("timed_out")), seconds=s.get("seconds"),
                           guest_seconds=s.get("guest_seconds"), stdout=s.get("stdout") or "",
                           stderr=s.get("stderr") or "") for s in raw.get("steps", [])]

    @classmethod
    def load(cls, path):
        """Results from a results.json file or the folder holding it."""
        if os.path.isdir(path):
            path = os.path.join(path, "results.json")
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f), os.path.dirname(os.path.abspath(path)))

    def step(self, name, node=None):
        """The step of that name (on that node); KeyError if none."""
        for s in self.steps:
            if s.name == name and (node is None or s.node == node):
                return s
        raise KeyError(name if node is None else "%s on %s" % (name, node))

    def failure(self):
        """Why the run did not pass, in one line; None if it did."""
        if self.ok:
            return None
        if self.error:
            return self.error
        for s in self.steps:
            if not s.ok:
                why = "timed out" if s.timed_out else "exit status %s" % s.status
                tail = (s.stderr.strip() or s.stdout.strip()).splitlines()[-1:]
                return "step '%s' on %s: %s%s" % (s.name, s.node, why, (": " + tail[0]) if tail else "")
        return "the run failed"

    @property
    def modelled(self):
        """True when the guests' figures are on modelled time."""
        return self.timing.get("guest_clock") == "modelled"

    def figures(self):
        """The run's figures as one flat dict:

        - ``rtt<SIZE>_<stat>_us`` (stat: min, mean, p50, p99, max) for every
          size a ping-pong step (ntb_pingpong_bench --json) reported, in the
          guest's clock (modelled time when ``guest_clock`` is ``modelled``);
        - ``guest_clock``, ``boot_s``, ``host_s`` (the whole run, host time);
        - from the switch's modelled-time statistics (docs/modelled-time.md,
          "Statistics"): ``rounds``, ``lookahead_ns``, ``late_effects``,
          ``grant_overruns``, ``requests_in_past``, ``protocol_errors``,
          ``deferred_effects``, ``mmio_reads``, ``trace_hash``.
        """
        f = {"guest_clock": self.timing.get("guest_clock"), "boot_s": self.boot_s, "host_s": self.host_seconds}
        for s in self.steps:
            j = s.json()
            if not isinstance(j, dict) or not isinstance(j.get("results"), list):
                continue
            for r in j["results"]:
                if not isinstance(r, dict) or "size" not in r:
                    continue
                for stat in ("min", "mean", "p50", "p99", "max"):
                    if stat + "_us" in r:
                        f.setdefault("rtt%d_%s_us" % (r["size"], stat), r[stat + "_us"])
        for k in ("rounds", "lookahead_ns", "late_effects", "grant_overruns", "requests_in_past", "protocol_errors",
                  "deferred_effects", "mmio_reads", "trace_hash"):
            if k in self.sync:
                f[k] = self.sync[k]
        return f

    def __repr__(self):
        return "Results(%r, ok=%s%s)" % (self.scenario, self.ok, "" if self.ok else ", " + repr(self.failure()))


def as_scenario(scenario):
    """A Scenario from a Scenario, a dict or a file path."""
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, dict):
        return Scenario(scenario)
    if isinstance(scenario, (str, os.PathLike)):
        return Scenario.load(scenario)
    raise TypeError("a scenario is a Scenario, a dict or a file path, not %s" % type(scenario).__name__)


_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    # In the child between fork and exec: SIGTERM when the thread that started
    # it ends (a Dask worker killed mid-point), so the runner tears down.
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)


def run(scenario, out, *, lab=None, overrides=None, check=True, quiet=True, stop=None, grace_s=120):
    """Run a scenario (Scenario, dict or YAML path) with ntblab-cli into the
    folder ``out``: ``out/scenario.yaml`` (what ran), ``out/results.json``,
    ``out/logs/``, ``out/cli.log`` (the runner's own output). ``overrides``
    sets fields first (``{'nodes[*].link.gen': 1}``).

    Returns Results. Raises ScenarioError (with ``.field``) when the lab's
    loader refuses the scenario, before anything boots; RunError when the
    run fails and ``check`` is true (``check=False`` returns the failed
    Results instead); RunInterrupted when ``stop()`` (polled every 0.2 s)
    returns true. On KeyboardInterrupt (Ctrl-C) or ``stop`` the runner gets
    SIGTERM and tears its cluster down before this returns or raises; it is
    SIGKILLed only after ``grace_s``."""
    lab = lab or _lab.Lab.from_environment()
    lab.check()
    sc = as_scenario(scenario)
    if overrides:
        sc = sc.copy().override(overrides)
    out = os.path.abspath(out)
    os.makedirs(out, exist_ok=True)
    path = sc.write(os.path.join(out, "scenario.yaml"))
    res_path = os.path.join(out, "results.json")
    if os.path.exists(res_path):
        os.remove(res_path)  # never read an earlier run's results
    cmd = [lab.cli, "run", path, "--out", out] + (["--quiet"] if quiet else [])
    t0 = time.monotonic()
    with open(os.path.join(out, "cli.log"), "w+b") as log:
        # Its own session: a terminal's Ctrl-C reaches Python, which stops the
        # runner itself (below), rather than every process at once.
        p = subprocess.Popen(cmd, env=lab.environ(), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                             start_new_session=True, preexec_fn=_die_with_parent)
        pid_file = os.path.join(out, "cli.pid")
        with open(pid_file, "w") as f:
            f.write("%d\n" % p.pid)  # a sweep stopped by Ctrl-C waits until it is gone
        stopped = False
        try:
            while p.poll() is None:
                if stop is not None and stop():
                    stopped = True
                    break
                try:
                    p.wait(timeout=0.2)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            if p.poll() is None:  # stop(), Ctrl-C or another exception: tear down
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=grace_s)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            os.remove(pid_file)
        log.seek(0)
        cli_output = log.read().decode("utf-8", "replace")
    host_s = time.monotonic() - t0
    if stopped or p.returncode == 130:
        raise RunInterrupted("interrupted: the run in %s was stopped and torn down" % out,
                             Results.load(res_path) if os.path.exists(res_path) else None)
    if p.returncode == 2 and not os.path.exists(res_path):
        err = parse_error(cli_output)
        if err is not None:
            raise err
    if not os.path.exists(res_path):
        raise RunError("ntblab-cli run exited %d without results: %s" % (p.returncode, cli_output.strip()[-2000:]))
    with open(res_path, encoding="utf-8") as f:
        results = Results(json.load(f), out, host_s)
    if check and not results.ok:
        raise RunError("%s: %s (see %s)" % (results.scenario, results.failure(), res_path), results)
    return results
