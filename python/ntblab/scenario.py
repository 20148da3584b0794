# SPDX-License-Identifier: GPL-2.0-only
"""Scenarios from Python: load a YAML file or start from a dict, override fields
by their path, write the file the lab's runner reads, check it with the lab's
own loader (ntblab-validate).

Field paths are the ones the loader names in its errors (docs/scenario-format.md,
"Errors"): ``timing.mode``, ``nodes[1].link.gen``, ``switch.hop_latency``.
``nodes[*].link.gen`` sets the field on every node.
"""
import copy
import os
import re
import subprocess
import tempfile

import yaml

from . import lab as _lab


class ScenarioError(ValueError):
    """A scenario the loader refuses, or a field path that does not fit it.

    ``field`` is the field's path as the loader names it (``nodes[0].link.gen``),
    ``reason`` what is wrong; ``file`` and ``line`` locate it in the YAML file
    that was checked (line 0: the file as a whole)."""

    def __init__(self, field, reason, file=None, line=None):
        self.field, self.reason, self.file, self.line = field, reason, file, line
        where = "%s:%s: " % (file, line) if file is not None and line is not None else ""
        super().__init__("%s%s: %s" % (where, field, reason))

    def __reduce__(self):  # keeps the fields when a Dask worker sends it back
        return (ScenarioError, (self.field, self.reason, self.file, self.line))


# The loader's error line: FILE:LINE: FIELD: reason. FIELD never holds ": ".
_ERROR_LINE = re.compile(r"^(?P<file>.*?):(?P<line>\d+): (?P<field>[^:]+?): (?P<reason>.*)$")


def parse_error(text):
    """The first FILE:LINE: FIELD: reason line of the loader's stderr as a
    ScenarioError, or None."""
    for ln in text.splitlines():
        m = _ERROR_LINE.match(ln.strip())
        if m:
            return ScenarioError(m["field"], m["reason"], m["file"], int(m["line"]))
    return None


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML reads YAML 1.1, where `on`, `yes`, `off` are booleans; the lab's
    loader reads YAML 1.2 (`on:` is the key "on"). Only true/false are
    booleans here, the rest of the implicit types stay as PyYAML has them."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                    list("tTfF"))

_PATH = re.compile(r"^[^.\[\]]+(?:\[(?:\d+|\*)\]|\.[^.\[\]]+)*$")
_PART = re.compile(r"([^.\[\]]+)|\[(\d+|\*)\]")


def _split(path):
    """'nodes[0].link.gen' -> ['nodes', 0, 'link', 'gen'] ('*' for [*])."""
    if not isinstance(path, str) or not _PATH.match(path):
        raise ScenarioError(str(path), "not a field path (write e.g. nodes[0].link.gen or timing.mode)")
    return [m.group(1) if m.group(1) is not None else (m.group(2) if m.group(2) == "*" else int(m.group(2)))
            for m in _PART.finditer(path)]


def _name(parts):
    out = ""
    for p in parts:
        out += "[%s]" % p if isinstance(p, int) or p == "*" else ("." if out else "") + p
    return out


class Scenario:
    """A scenario as the YAML file's tree (dicts, lists, scalars), with its name
    kept in ``data['name']``. Quantities are written with their units, as in
    the file: ``'256MiB'``, ``'126ns'``, ``'60s'``."""

    def __init__(self, data, source=None):
        if not isinstance(data, dict):
            raise ScenarioError("(top level)", "a scenario is a mapping, not %s" % type(data).__name__)
        self.data = copy.deepcopy(data)
        self.source = source  # the file it was loaded from, if any

    @classmethod
    def load(cls, path):
        """Read a scenario file (YAML 1.2, as the lab's loader reads it)."""
        with open(path, encoding="utf-8") as f:
            try:
                data = yaml.load(f, Loader=_Yaml12Loader)
            except yaml.YAMLError as e:
                raise ScenarioError("(syntax)", str(e).replace("\n", " "), path, 0) from None
        return cls(data, source=os.path.abspath(path))

    def copy(self):
        return Scenario(self.data, self.source)

    @property
    def name(self):
        return self.data.get("name")

    def get(self, path):
        """The value at a field path (``[*]`` not allowed); KeyError if absent."""
        node = self.data
        for p in _split(path):
            if p == "*":
                raise ScenarioError(path, "[*] names several fields; get one")
            try:
                node = node[p]
            except (KeyError, IndexError, TypeError):
                raise KeyError(path) from None
        return node

    def set(self, path, value):
        """Set a field (creating the mappings on its way); ``None`` removes it.
        Returns the scenario, so calls chain."""
        parts = _split(path)
        self._set(self.data, parts, [], value, path)
        return self

    def override(self, fields):
        """Set several fields: ``{'nodes[*].link.gen': 1, 'timing.mode': 'exact'}``."""
        for k, v in fields.items():
            self.set(k, v)
        return self

    def _set(self, node, parts, done, value, path):
        head, rest = parts[0], parts[1:]
        if head != "*" and isinstance(head, str):
            if not isinstance(node, dict):
                raise ScenarioError(_name(done) or "(top level)", "is not a mapping; cannot set %s" % path)
            if not rest:
                if value is None:
                    node.pop(head, None)
                else:
                    node[head] = copy.deepcopy(value)
                return
            nxt = node.get(head)
            if nxt is None:
                nxt = node[head] = {} if rest[0] != "*" and isinstance(rest[0], str) else []
            self._set(nxt, rest, done + [head], value, path)
            return
        if not isinstance(node, list):
            raise ScenarioError(_name(done), "is not a list; cannot set %s" % path)
        indices = range(len(node)) if head == "*" else [head]
        for i in indices:
            if i >= len(node):
                raise ScenarioError(_name(done + [i]), "no such item (the list has %d)" % len(node))
            if not rest:
                node[i] = copy.deepcopy(value)
            else:
                self._set(node[i], rest, done + [i], value, path)

    def to_yaml(self):
        """The scenario as a YAML file the lab's loader reads (keys such as
        `on` are quoted, so that YAML 1.1 readers agree)."""
        return yaml.safe_dump(self.data, sort_keys=False, default_flow_style=False, width=1 << 16)

    def write(self, path):
        """Write the YAML file; returns its path."""
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(self.to_yaml())
        os.replace(tmp, path)
        return path

    def validate(self, lab=None):
        """Check the scenario with the lab's loader (ntblab-validate): returns
        its summary line, raises ScenarioError naming the field otherwise."""
        lab = lab or _lab.Lab.from_environment()
        with tempfile.TemporaryDirectory(prefix="ntblab-scenario-") as d:
            path = self.write(os.path.join(d, "%s.yaml" % (self.name or "scenario")))
            return check_file(path, lab)

    def __repr__(self):
        return "Scenario(%r)" % (self.name,)


def check_file(path, lab):
    """ntblab-validate on one file: its ok line, or ScenarioError."""
    p = subprocess.run([lab.validate, path], capture_output=True, text=True, errors="replace", timeout=60)
    if p.returncode == 0:
        return p.stdout.strip()
    err = parse_error(p.stderr)
    if err is None:
        raise RuntimeError("%s exited %d: %s" % (lab.validate, p.returncode, p.stderr.strip() or p.stdout.strip()))
    raise err


def pingpong_scenario(gen=3, width=8, iters=200, warmup=20, size=64, topology="back-to-back", hop_latency=None,
                      name=None, seed=None):
    """The af_ntb ping-pong in modelled time (exact from the marker) and batch
    mode, as tests/modelled/batch-pingpong.yaml: two nodes load af_ntb, node1
    writes the exact-time marker, node0 serves one client, node1 runs
    ``iters`` round trips of ``size`` bytes after ``warmup``. Its results'
    figures are ``rtt<size>_p50_us`` and friends (Results.figures).

    ``topology='fabric'`` puts both nodes on the transparent fabric switch
    (one hop more than back-to-back); ``hop_latency`` (e.g. '126ns') sets
    ``switch.hop_latency``, each switch hop's cut-through time.

    Step timeouts are on the guests' (modelled) clock; in batch mode the
    runner gives up after boot_timeout plus the busiest node's step timeouts
    of host time, here 180 + 240 + 60 + ``step_s`` seconds: a point whose
    guest hangs costs that much, not hours."""
    step_s = max(300, iters // 10)
    # Batch mode copies the host's file into the guests at the same path.
    bench = os.path.join(_lab.default_build_dir(), "sockets", "ntb_pingpong_bench")
    load = "$NTBLAB_ROOT/sockets/lab/guest.sh"
    marker = ("d=$(grep -l 0x87b0 /sys/bus/pci/devices/*/device | head -1); printf '\\041\\142\\164\\156' | "
              "dd of=${d%/device}/config bs=4 seek=1020 conv=notrunc status=none")
    data = {
        "name": name or "pingpong-gen%dx%d" % (gen, width),
        "topology": topology,
        "timing": {"mode": "exact", "exact_from": "marker"},
        "batch": {"files": ["/bin/bash", "sockets/lab/guest.sh", "guest/lib/guest-lib.sh", bench]},
        "boot_timeout": "180s",
        "nodes": [{"name": "node%d" % i, "memory": "256MiB", "link": {"gen": gen, "width": width}}
                  for i in range(2)],
        "steps": [
            {"name": "load af_ntb", "on": "all", "run": "%s load && %s wait-up 120" % (load, load),
             "timeout": "240s"},
            {"name": "exact time from here", "on": "node1", "run": marker, "timeout": "60s"},
            {"name": "ping-pong server", "on": "node0",
             "run": "%s --server --family ntb --port 5201 --once" % bench, "timeout": "%ds" % step_s},
            {"name": "ping-pong %d B" % size, "on": "node1",
             "run": "%s --client 10.1.0.1 --family ntb --port 5201 --sizes %d --iters %d --warmup %d "
                    "--json" % (bench, size, iters, warmup), "timeout": "%ds" % step_s},
        ],
    }
    if seed is not None:
        data["timing"]["seed"] = seed
    if hop_latency is not None:
        data["switch"] = {"hop_latency": hop_latency}
    return Scenario(data)
