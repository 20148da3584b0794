# SPDX-License-Identifier: GPL-2.0-only
"""Where the lab's programs are: the runner (ntblab-cli), the scenario checker
(ntblab-validate), the switch process, the repository, and the environment
the runner reads (NTBLAB_QEMU, NTBLAB_IMAGE, NTBLAB_MODROOT, NTBLAB_KREL;
ci/build-lab.sh prints them, ./ntblab exports them; without them the runner
uses the cache /var/cache/ntblab)."""
import os
from dataclasses import dataclass, field

try:  # written by CMake into build/python/ntblab/
    from ._paths import BUILD_DIR as _BUILD_DIR, SOURCE_DIR as _SOURCE_DIR
except ImportError:  # the source tree's python/ntblab
    _SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    _BUILD_DIR = os.path.join(_SOURCE_DIR, "build")


def default_build_dir():
    return os.environ.get("NTBLAB_BUILD_DIR") or _BUILD_DIR


@dataclass
class Lab:
    """The programs and environment runs use. ``from_environment()`` fills it
    from NTBLAB_* variables and the build this package belongs to."""
    root: str
    build_dir: str
    cli: str
    validate: str
    env: dict = field(default_factory=dict)  # what runs add to os.environ

    @classmethod
    def from_environment(cls, environ=None):
        e = os.environ if environ is None else environ
        root = e.get("NTBLAB_ROOT") or _SOURCE_DIR
        build = e.get("NTBLAB_BUILD_DIR") or _BUILD_DIR
        env = {k: v for k, v in e.items() if k.startswith("NTBLAB_")}
        env.setdefault("NTBLAB_ROOT", root)
        env.setdefault("NTBLAB_SWITCH", os.path.join(build, "switch", "ntblab-switch"))
        env.setdefault("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1")
        return cls(root=root, build_dir=build,
                   cli=e.get("NTBLAB_CLI") or os.path.join(build, "cli", "ntblab-cli"),
                   validate=e.get("NTBLAB_VALIDATE") or os.path.join(build, "cli", "ntblab-validate"),
                   env=env)

    def environ(self):
        """os.environ with the lab's variables: the runner's environment."""
        out = dict(os.environ)
        out.update(self.env)
        return out

    def check(self):
        """Raise FileNotFoundError naming what is missing to run a scenario."""
        for what, path in (("ntblab-cli", self.cli), ("ntblab-validate", self.validate),
                           ("the switch process", self.env["NTBLAB_SWITCH"])):
            if not os.access(path, os.X_OK):
                raise FileNotFoundError("%s not found at %s (build the lab: ./ntblab, or set NTBLAB_BUILD_DIR)"
                                        % (what, path))
