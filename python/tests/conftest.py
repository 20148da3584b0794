# SPDX-License-Identifier: GPL-2.0-only
import os
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples")


@pytest.fixture
def example_env():
    """Environment for running an example as a subprocess with the built module."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env["MPLBACKEND"] = "Agg"
    return env
