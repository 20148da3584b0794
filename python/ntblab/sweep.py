# SPDX-License-Identifier: GPL-2.0-only
"""Sweeps: one run per point of a cartesian product of parameters, on a Dask
distributed cluster (Debian's python3-distributed), one folder per point, and
a table with one row per point (its parameters and figures).

The distribution is Dask's: a LocalCluster sized to this machine by default,
or the address of a running scheduler (``dask-scheduler``, with
``dask-worker``s on other machines; docs/studies.md)."""
import itertools
import json
import logging
import os
import re
import time
import uuid

from . import lab as _lab
from .runs import RunInterrupted, as_scenario, run
from .scenario import Scenario, ScenarioError

CORES_PER_POINT = 2  # a point boots 2 guests: 2 vCPU threads, plus the switch process


def default_workers(cores=None, cores_per_point=CORES_PER_POINT):
    """Workers of a local cluster: one point per ``cores_per_point`` cores, at
    least one (on 2 cores: one worker, one point at a time)."""
    return max(1, (cores or os.cpu_count() or 1) // cores_per_point)


class Table(list):
    """A sweep's rows (dicts), in point order. Each row has ``point`` (its
    index), the point's parameters, ``ok``, ``error`` (None or the reason),
    ``error_field`` (the field the loader refused, if that was the reason),
    ``out`` (the point's folder) and the run's figures (Results.figures)."""

    @property
    def failed(self):
        return [r for r in self if not r.get("ok")]

    def columns(self):
        cols = []
        for r in self:
            for k in r:
                if k not in cols:
                    cols.append(k)
        return cols

    def format(self, columns=None):
        """A plain-text table of the given columns (default: all but ``out``)."""
        cols = columns or [c for c in self.columns() if c not in ("out", "error_field")]

        def cell(v):
            if isinstance(v, float):
                return "%.3f" % v
            return "-" if v is None else str(v)

        rows = [[cell(r.get(c)) for c in cols] for r in self]
        widths = [max([len(c)] + [len(row[i]) for row in rows]) for i, c in enumerate(cols)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths))]
        lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in rows]
        return "\n".join(lines)

    def to_json(self, path):
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(list(self), f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
        return path


def points(params):
    """The cartesian product of ``{name: [values]}`` as a list of dicts, the
    first parameter varying slowest; a list of dicts is taken as the points
    themselves (``[{'gen': 1, 'width': 1}, {'gen': 3, 'width': 8}]``)."""
    if isinstance(params, (list, tuple)) and params and all(isinstance(p, dict) for p in params):
        return [dict(p) for p in params]
    if not isinstance(params, dict) or not params:
        raise ValueError("params is a dict of lists, e.g. {'nodes[*].link.gen': [1, 3]}, or a list of points (dicts)")
    for k, v in params.items():
        if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
            raise ValueError("params['%s'] is not a list of values" % k)
    names = list(params)
    return [dict(zip(names, combo)) for combo in itertools.product(*(list(params[n]) for n in names))]


def _short(name):
    return re.sub(r"\[[^\]]*\]", "", name).rsplit(".", 1)[-1]


def point_dir_name(index, point):
    """``003-gen=1-width=8``: the index, then each parameter by its last name."""
    text = "-".join("%s=%s" % (_short(k), v) for k, v in point.items())
    return "%03d-%s" % (index, re.sub(r"[^A-Za-z0-9_.=+-]", "_", text))[:120]


def _row(index, point, out, ok=False, error=None, field=None, figures=None):
    row = {"point": index}
    row.update(point)
    row.update({"ok": ok, "error": error, "error_field": field, "out": out})
    row.update(figures or {})
    return row


def _run_point(index, point, scenario, out, stop_name, lab):
    """A Dask task: run one point; never raises for the run's own failures
    (they go into the row), so that Dask's retries are left for lost
    workers. Returns (row, results.json text or None)."""
    stop = _stop_flag(stop_name)
    if stop is not None and stop():  # the sweep was stopped before this point started
        return _row(index, point, out, error="interrupted"), None
    try:
        res = run(scenario, out, lab=lab, check=False, stop=stop)
    except ScenarioError as e:
        return _row(index, point, out, error=str(e), field=e.field), None
    except RunInterrupted:
        return _row(index, point, out, error="interrupted"), None
    except Exception as e:  # the runner could not start, wrote nothing, ...
        return _row(index, point, out, error="%s: %s" % (type(e).__name__, e)), None
    with open(os.path.join(out, "results.json"), encoding="utf-8") as f:
        text = f.read()
    return _row(index, point, out, ok=res.ok, error=res.failure(), figures=res.figures()), text


def _stop_flag(name):
    """stop() for run(): true once the sweep's Dask Event is set (the client
    was interrupted or cancelled), or once the scheduler is gone."""
    if name is None:
        return None
    from distributed import Event, get_client
    ev = Event(name, client=get_client())
    last = [0.0, False]

    def stop():
        now = time.monotonic()
        if now - last[0] >= 1.0:  # one round trip to the scheduler a second
            last[0] = now
            try:
                last[1] = ev.is_set()
            except Exception:  # the scheduler is gone: nobody wants the result
                last[1] = True
        return last[1]
    return stop


def sweep(params, scenario, out, *, scheduler=None, workers=None, lab=None, retries=1, progress=None,
          cluster_kwargs=None):
    """Run every point of the cartesian product of ``params`` (or the list of
    points it is, see points()) and return a
    Table, one row per point, in point order; the table is also written to
    ``out/sweep.json`` and each point's run to ``out/points/NNN-.../``.

    ``scenario`` is either a scenario (Scenario, dict or YAML path), whose
    fields the parameters override by path (``{'nodes[*].link.gen': [1, 3]}``),
    or a function called with each point's parameters as keyword arguments
    that returns the point's scenario (e.g. ntblab.pingpong_scenario with
    ``{'gen': [1, 3], 'width': [1, 8]}``).

    A point the loader refuses, or whose run fails, fails alone: its row has
    ``ok`` False and ``error`` (and ``error_field``); the others go on.
    Points run on ``scheduler`` (an address such as ``tcp://host:8786``) or,
    by default, on a LocalCluster of ``workers`` processes with one thread
    each (default_workers(): one point per 2 cores). Dask retries a point
    whose worker was lost once (``retries``); a point lost twice gets its
    error in its row. Ctrl-C (KeyboardInterrupt) stops every running point,
    waits until their runners have torn their clusters down, and re-raises.
    ``progress`` is called with each row as it finishes."""
    lab = lab or _lab.Lab.from_environment()
    lab.check()
    out = os.path.abspath(out)
    os.makedirs(os.path.join(out, "points"), exist_ok=True)
    pts = points(params)
    rows = [None] * len(pts)
    todo = []
    for i, p in enumerate(pts):
        pdir = os.path.join(out, "points", point_dir_name(i, p))
        try:
            sc = scenario(**p) if callable(scenario) else as_scenario(scenario).copy().override(p)
            if not isinstance(sc, Scenario):
                sc = as_scenario(sc)
        except ScenarioError as e:
            rows[i] = _row(i, p, pdir, error=str(e), field=e.field)
            continue
        todo.append((i, p, sc, pdir))
    if todo:
        _distribute(todo, rows, scheduler, workers, lab, retries, progress, cluster_kwargs or {})
    for r in rows:
        if r is not None and progress is not None and r.get("error_field") and r["point"] not in {t[0] for t in todo}:
            progress(r)
    table = Table(rows)
    table.to_json(os.path.join(out, "sweep.json"))
    return table


def _distribute(todo, rows, scheduler, workers, lab, retries, progress, cluster_kwargs):
    import dask
    from distributed import Client, Event, LocalCluster, as_completed

    cluster = None
    # A worker lost while running a point: Dask reschedules the point; after
    # `allowed-failures` such losses it gives up with KilledWorker. One retry.
    with dask.config.set({"distributed.scheduler.allowed-failures": retries}):
        if scheduler:
            client = Client(scheduler)
        else:
            kw = dict(n_workers=workers or default_workers(), threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR)
            kw.update(cluster_kwargs)
            cluster = LocalCluster(**kw)
            client = Client(cluster)
    stop_name = "ntblab-sweep-stop-" + uuid.uuid4().hex
    stop_event = Event(stop_name, client=client)
    try:
        futures = {}
        for i, p, sc, pdir in todo:
            f = client.submit(_run_point, i, p, sc, pdir, stop_name, lab, key="ntblab-point-%03d-%s" % (i, stop_name[-8:]),
                              retries=retries, pure=False)
            futures[f] = (i, p, pdir)
        try:
            for f in as_completed(list(futures)):
                i, p, pdir = futures[f]
                try:
                    if f.status == "cancelled":  # by another client; f.result() would raise a BaseException
                        raise RuntimeError("cancelled")
                    row, text = f.result()
                except Exception as e:  # KilledWorker: lost twice; or the task failed twice
                    row, text = _row(i, p, pdir, error="%s: %s" % (type(e).__name__, e)), None
                if text is not None and not os.path.exists(os.path.join(pdir, "results.json")):
                    # The point ran on another machine: keep its results here too.
                    os.makedirs(pdir, exist_ok=True)
                    with open(os.path.join(pdir, "results.json"), "w", encoding="utf-8") as fh:
                        fh.write(text)
                rows[i] = row
                if progress is not None:
                    progress(row)
        except BaseException:  # Ctrl-C, or anything else: stop every point, tear down
            _stop_all(client, stop_event, list(futures), [t[3] for t in todo])
            raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _stop_all(client, stop_event, futures, dirs, timeout=180):
    """Stop a sweep: every running point sees the event, SIGTERMs its runner
    and returns once the runner has torn its cluster down; points not started
    yet return at once. Then wait for the runners this machine started (a
    worker killed by the same Ctrl-C leaves its runner to PR_SET_PDEATHSIG,
    which tears down too): their pid files (run(), ``cli.pid``) go away."""
    deadline = time.monotonic() + timeout
    keys = {f.key for f in futures}
    try:
        stop_event.set()
    except BaseException:
        pass
    while time.monotonic() < deadline:
        try:
            if all(f.done() for f in futures):
                break
            # A point whose worker died with the Ctrl-C is not done, but its
            # runner tore down (below) and no worker is running it any more.
            busy = any(k in keys for ks in client.processing().values() for k in ks)
        except BaseException:  # a second Ctrl-C, a lost scheduler: still wait for local runners
            busy = False
        if not busy and not any(_alive(_read_pid(os.path.join(d, "cli.pid"))) for d in dirs):
            break
        time.sleep(0.5)
    try:
        client.cancel(futures)
    except Exception:
        pass
    for d in dirs:
        pid = _read_pid(os.path.join(d, "cli.pid"))
        while pid and _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)


def _read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def _alive(pid):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (its parent died and nobody reaped it yet) has torn down.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
