# SPDX-License-Identifier: GPL-2.0-only
"""Find the built module when run from the source tree (build/python)."""
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
for cand in (os.environ.get("NTBLAB_PYTHONPATH"),
             os.path.join(_here, "..", "..", "build", "python")):
    if cand and os.path.isdir(cand) and cand not in sys.path:
        sys.path.append(cand)
