"""Old import paths of the core, kept working for one release (0.2 removes them).

Until 0.1 the core was one flat folder (``sdmbench.records``, ``sdmbench.neuron``...); it is now
grouped by concern (``sdmbench.running``, ``sdmbench.plugin_api``...). A plugin that still imports
an old path gets the very module of the new one (the same object: patching one patches the other)
and a :class:`DeprecationWarning` naming the new path. :data:`MOVED` is the whole contract: an old
module name, or an old package's submodule (``sdmbench.site.build``), maps to its new name.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from pathlib import Path
from typing import Dict, Optional

IMPORTLIB = str(Path(importlib.__file__).parent)

_GROUPS = {
    "cli": {"cli_run": "run", "cli_score": "score", "cli_runs": "runs", "cli_board": "board",
            "cli_leaderboard": "leaderboard", "console": "console"},
    "running": {name: name for name in ("config", "configure", "runner", "pipeline", "training", "sampling",
                                        "checkpoint", "interrupt", "curves", "sweep", "records", "rescore",
                                        "recount")},
    "hardware": {name: name for name in ("allocator", "distributed", "precision", "environment", "sizes")},
    "board": {name: name for name in ("entries", "leaderboard", "verify", "stats", "site")},
    "plugin_api": {"hookspecs": "hookspecs", "plugins": "loader", "registry": "registry",
                   "contracts": "contracts", "commands": "commands", "testing": "testing", "model": "model",
                   "neuron": "neuron", "data": "data", "safe_pickle": "safe_pickle"},
}

#: old module name -> new module name (``sdmbench.cli`` kept its name: it is now a package)
MOVED: Dict[str, str] = {f"sdmbench.{old}": f"sdmbench.{group}.{new}"
                         for group, names in _GROUPS.items() for old, new in names.items()}


def new_name(name: str) -> Optional[str]:
    """The new name of the old module ``name`` (or of a submodule of an old package), else None."""
    for old, new in MOVED.items():
        if name == old or name.startswith(old + "."):
            return new + name[len(old):]
    return None


class OldPaths(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers an old name with the new module itself, and warns once per old name and process."""

    def __init__(self) -> None:
        self.specs: Dict[str, object] = {}  # new name -> its own spec

    def find_spec(self, name, path=None, target=None):
        if new_name(name) is None:
            return None
        return importlib.util.spec_from_loader(name, self, is_package=True)

    def create_module(self, spec):
        new = new_name(spec.name)
        frame = sys._getframe(1)  # the importing line: the first frame outside importlib and this file
        while frame.f_back and frame.f_code.co_filename.startswith(("<frozen", IMPORTLIB, __file__)):
            frame = frame.f_back
        warnings.warn_explicit(f"{spec.name} moved to {new} and the old path goes in sdmbench 0.2: import {new}",
                               DeprecationWarning, frame.f_code.co_filename, frame.f_lineno,
                               module=frame.f_globals.get("__name__"),
                               registry=frame.f_globals.setdefault("__warningregistry__", {}))
        module = importlib.import_module(new)
        self.specs[module.__name__] = module.__spec__
        return module

    def exec_module(self, module) -> None:
        # the import system stamped the old spec on the shared module; give it its own back
        module.__spec__ = self.specs[module.__name__]


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (so an old package's submodule is never loaded twice)."""
    if not any(isinstance(finder, OldPaths) for finder in sys.meta_path):
        sys.meta_path.insert(0, OldPaths())
