#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""docs/scenario.schema.json, the scenario loader, docs/scenario-format.md and
the example scenarios agree:

1. the schema is a valid JSON Schema (draft 2020-12);
2. every scenarios/*.yaml and tests/**/*.yaml that `ntblab validate` accepts
   validates against the schema (every file in scenarios/ must be accepted);
3. per section (top level, timing, switch, switch.ports[], nodes[],
   nodes[].link, steps[], a parallel group's steps), the field names the
   loader accepts are exactly the schema's, and for the sections with a table
   in docs/scenario-format.md, exactly the table's. The loader's names are
   what it lists when refusing an unknown field ("expected one of: ...");
4. each accepted file's resolved scenario (what results.json records as
   scenario_resolved) validates against the schema, loads again to the same
   resolved scenario, and together they use every field of the schema;
5. the schema is strict: unknown fields and a few wrong values fail it.

Scenario files are read as YAML 1.2, as the loader (yaml-cpp) and editors
read them: `on:` is a key named "on", not the YAML 1.1 boolean true.

Usage: scenario-schema.py VALIDATE RESOLVE ROOT
  VALIDATE  the ntblab-validate executable
  RESOLVE   tests/docs/scenario_resolve (prints a file's resolved scenario)
  ROOT      the repository
"""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

import jsonschema
import yaml

validate_exe, resolve_exe, root = sys.argv[1:4]
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


class Yaml12Loader(yaml.SafeLoader):
    """PyYAML resolves YAML 1.1 (on/off/yes/no are booleans); this resolves
    plain scalars as YAML 1.2's core schema does."""


Yaml12Loader.yaml_implicit_resolvers = {}
for tag, regexp, first in [
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    ("float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
              r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+0123456789."),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
]:
    Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:" + tag, re.compile(regexp), list(first))


def run(exe, *args):
    p = subprocess.run([exe, *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


schema_path = os.path.join(root, "docs", "scenario.schema.json")
with open(schema_path) as f:
    schema = json.load(f)
Validator = jsonschema.Draft202012Validator
try:
    Validator.check_schema(schema)
except jsonschema.SchemaError as e:
    fail("docs/scenario.schema.json is not a valid draft 2020-12 schema: %s" % e.message)
    sys.exit(1)
validator = Validator(schema)


def schema_errors(doc):
    return ["%s: %s" % ("/".join(map(str, e.absolute_path)) or "(top level)", e.message)
            for e in validator.iter_errors(doc)]


# 2. Examples the loader accepts validate against the schema.
examples = sorted(glob.glob(os.path.join(root, "scenarios", "*.yaml")) +
                  glob.glob(os.path.join(root, "tests", "**", "*.yaml"), recursive=True))
accepted = []
for path in examples:
    rel = os.path.relpath(path, root)
    rc, out, err = run(validate_exe, path)
    if rc != 0:
        if rel.startswith("scenarios/"):
            fail("%s: the loader refuses an example: %s" % (rel, err.strip()))
        else:
            print("skip: %s (the loader refuses it: %s)" % (rel, err.strip()))
        continue
    accepted.append(path)
    with open(path) as f:
        errors = schema_errors(yaml.load(f, Loader=Yaml12Loader))
    if errors:
        fail("%s: the loader accepts it, the schema does not: %s" % (rel, "; ".join(errors)))
    else:
        print("ok: %s validates against the schema" % rel)
if len(accepted) < 3:
    fail("only %d example files accepted; the check would prove little" % len(accepted))

# 3. Field names: the loader's, the schema's and the doc's tables.
pair = "nodes:\n  - name: a\n  - name: b\n"
probes = {  # section: (a scenario with an unknown field there, the schema's $defs entry or None for the root)
    "top level": ("name: x\nzz_unknown: 1\n" + pair, None),
    "timing": ("name: x\ntiming: {zz_unknown: 1}\n" + pair, "timing"),
    "switch": ("name: x\nswitch: {zz_unknown: 1}\n" + pair, "switch"),
    "switch.ports[]": ("name: x\ntopology: fabric\nswitch: {ports: [{zz_unknown: 1}]}\n" + pair, "port"),
    "nodes[]": ("name: x\nnodes:\n  - {name: a, zz_unknown: 1}\n  - name: b\n", "node"),
    "nodes[].link": ("name: x\nnodes:\n  - {name: a, link: {zz_unknown: 1}}\n  - name: b\n", "link"),
    "steps[]": ("name: x\n" + pair + "steps:\n  - {zz_unknown: 1}\n", "step"),
    "steps[].parallel[]": ("name: x\n" + pair + "steps:\n  - parallel: [{zz_unknown: 1}]\n", "parallel_step"),
}
# The loader reads a group's steps with the step reader and refuses a nested
# `parallel` only after the keys; the schema leaves it out of parallel_step.
not_in_schema = {"steps[].parallel[]": {"parallel"}}


def loader_fields(text, tmp):
    path = os.path.join(tmp, "probe.yaml")
    with open(path, "w") as f:
        f.write(text)
    rc, out, err = run(validate_exe, path)
    m = re.search(r"zz_unknown: unknown field \(expected one of: ([^)]*)\)", err)
    if rc != 2 or not m:
        return None, "status %d, stderr %r" % (rc, err)
    return set(m.group(1).split(", ")), None


def doc_tables(path):
    """{heading: [field, ...]} for the field tables of docs/scenario-format.md."""
    tables, heading, in_table = {}, None, False
    with open(path) as f:
        for line in f:
            if line.startswith("## "):
                heading, in_table = line[3:].strip(), False
            elif heading and line.startswith("| field |"):
                in_table = True
                tables[heading] = []
            elif in_table and line.startswith("|"):
                m = re.match(r"\|\s*`([a-z_]+)`\s*\|", line)
                if m:
                    tables[heading].append(m.group(1))
            elif in_table:
                in_table = False
    return tables


docs = doc_tables(os.path.join(root, "docs", "scenario-format.md"))
doc_heading = {"top level": "Top level", "timing": "`timing`", "switch": "`switch` (fabric topology)",
               "nodes[]": "`nodes[]`", "steps[]": "`steps[]`"}
with tempfile.TemporaryDirectory() as tmp:
    for section, (text, ref) in probes.items():
        loader, why = loader_fields(text, tmp)
        if loader is None:
            fail("%s: no list of fields from the loader (%s)" % (section, why))
            continue
        loader -= not_in_schema.get(section, set())
        props = set((schema if ref is None else schema["$defs"][ref])["properties"])
        if loader != props:
            fail("%s: loader and schema differ: only the loader: %s; only the schema: %s"
                 % (section, sorted(loader - props) or "-", sorted(props - loader) or "-"))
        else:
            print("ok: %s: loader and schema agree on %s" % (section, ", ".join(sorted(props))))
        if section in doc_heading:
            table = docs.get(doc_heading[section])
            if table is None:
                fail("%s: docs/scenario-format.md has no table under '## %s'" % (section, doc_heading[section]))
            elif set(table) != props or len(table) != len(set(table)):
                fail("%s: docs/scenario-format.md's table and the schema differ: only the doc: %s; only the schema: %s"
                     % (section, sorted(set(table) - props) or "-", sorted(props - set(table)) or "-"))
            else:
                print("ok: %s: docs/scenario-format.md's table agrees" % section)

    # 4. Resolved scenarios: valid, stable, and together using every field.
    used = {}

    def collect(section, obj):
        used.setdefault(section, set()).update(obj)

    for path in accepted:
        rel = os.path.relpath(path, root)
        rc, out, err = run(resolve_exe, path)
        if rc != 0:
            fail("%s: the resolver refuses it: %s" % (rel, err.strip()))
            continue
        resolved = json.loads(out)
        errors = schema_errors(resolved)
        if errors:
            fail("%s: its resolved scenario does not validate: %s" % (rel, "; ".join(errors)))
        again_path = os.path.join(tmp, "resolved.json")
        with open(again_path, "w") as f:
            json.dump(resolved, f)
        rc, out, err = run(resolve_exe, again_path)
        if rc != 0 or json.loads(out) != resolved:
            fail("%s: its resolved scenario does not load to itself: %s" % (rel, err.strip() or out))
        collect("top level", resolved)
        collect("timing", resolved["timing"])
        collect("switch", resolved["switch"])
        for p in resolved["switch"].get("ports", []):
            collect("switch.ports[]", p)
        for n in resolved["nodes"]:
            collect("nodes[]", n)
            collect("nodes[].link", n["link"])
        for st in resolved["steps"]:
            collect("steps[]", st)
            for leaf in st.get("parallel", []):
                collect("steps[].parallel[]", leaf)
    for section, (_, ref) in probes.items():
        props = set((schema if ref is None else schema["$defs"][ref])["properties"])
        missing = props - used.get(section, set())
        if missing:
            fail("%s: no resolved example has %s (resolved_json leaves it out, or no example uses it)"
                 % (section, sorted(missing)))
    print("ok: %d resolved scenarios checked" % len(accepted))

# 5. The schema refuses what it should.
good = {"name": "x", "nodes": [{"name": "a"}, {"name": "b"}]}
bad = {
    "an unknown top-level field": dict(good, colour="red"),
    "an unknown node field": dict(good, nodes=[{"name": "a", "mem": "1GiB"}, {"name": "b"}]),
    "a bare-number duration": dict(good, boot_timeout=120),
    "three nodes back to back": dict(good, nodes=[{"name": "a"}, {"name": "b"}, {"name": "c"}]),
    "a quantum in free mode": dict(good, timing={"quantum": "1ms"}),
    "a step with both run and parallel": dict(good, steps=[{"on": "a", "run": "true", "parallel": [{"on": "a", "run": "true"}]}]),
    "the node name all": dict(good, nodes=[{"name": "all"}, {"name": "b"}]),
}
if schema_errors(good):
    fail("the smallest scenario does not validate: %s" % schema_errors(good))
for what, doc in bad.items():
    if not schema_errors(doc):
        fail("the schema accepts %s" % what)
    else:
        print("ok: the schema refuses %s" % what)

if failures:
    print("%d failure(s)" % len(failures))
    sys.exit(1)
