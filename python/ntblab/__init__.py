# SPDX-License-Identifier: GPL-2.0-only
"""ntblab: a virtual lab for PCIe non-transparent bridging (PEX8749 model).

The compiled part (pybind11, ``ntblab._core``): ``ntblab.timing`` (the link
arithmetic and path model), ``ntblab.SwitchModel`` (two back-to-back chip
models), ``ntblab.ConfigError``. The runs API (Python, over ``ntblab-cli``):
``Scenario``, ``pingpong_scenario``, ``run``, ``Results``, ``sweep``
(docs/studies.md)."""
import importlib.util as _util

if _util.find_spec(__name__ + "._core") is not None:  # absent in a build without the bindings
    from ._core import *  # noqa: F401,F403
    from ._core import ConfigError, SwitchModel, timing  # noqa: F401

from .lab import Lab  # noqa: F401,E402
from .runs import Results, RunError, RunInterrupted, Step, run  # noqa: F401,E402
from .scenario import Scenario, ScenarioError, pingpong_scenario  # noqa: F401,E402
from .sweep import Table, default_workers, points, sweep  # noqa: F401,E402
