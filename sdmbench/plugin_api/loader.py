"""Plugin discovery: every plugin, built-in or not, arrives through the
``sdmbench`` entry-point group and fills the registries through the hooks of
:mod:`sdmbench.plugin_api.hookspecs`.

- ``SDMBENCH_DISABLE_PLUGINS=name,...`` skips plugins by entry-point name or
  by distribution name.
- A plugin that fails to import (or implements a misspelt hook) is recorded in
  :attr:`Plugins.failures` and skipped; the command line reports it by name.
- A name registered by two plugins is a :class:`~sdmbench.errors.UsageError`
  naming both.
- An entry that breaks its kind's contract (:mod:`sdmbench.plugin_api.contracts`) fails
  its plugin, reported with the plugin, the entry and the missing member.
- Command-line commands come from the ``sdmbench_register_commands`` hook
  (:meth:`Plugins.register_commands`), so a disabled plugin's commands are
  gone from ``sdmbench --help``.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from typing import Dict, Iterable, List, Optional, Tuple

import pluggy

from sdmbench.plugin_api import hookspecs
from sdmbench.plugin_api.contracts import CONTRACTS, ContractError
from sdmbench.errors import UsageError
from sdmbench.plugin_api.registry import DuplicateName, Registry

GROUP = "sdmbench"

#: plugin kind -> the hook that fills its registry
KINDS: Dict[str, str] = {
    "neuron": "sdmbench_register_neurons",
    "backbone": "sdmbench_register_backbones",
    "process": "sdmbench_register_processes",
    "dataset": "sdmbench_register_datasets",
    "metric": "sdmbench_register_metrics",
    "extractor": "sdmbench_register_extractors",
    "model": "sdmbench_register_models",
    "converter": "sdmbench_register_converters",
    "executor": "sdmbench_register_executors",
    "energy_model": "sdmbench_register_energy_models",
}


@dataclass
class Plugins:
    """The loaded plugins: one registry per kind, and what failed to load."""

    registries: Dict[str, Registry]
    loaded: Dict[str, str] = field(default_factory=dict)  # plugin name -> distribution
    failures: Dict[str, str] = field(default_factory=dict)  # plugin name -> reason
    disabled: List[str] = field(default_factory=list)
    manager: Optional[pluggy.PluginManager] = None

    def register_commands(self, app) -> None:
        """Let every loaded plugin add its commands to the typer ``app`` (once per app)."""
        if self.manager is None or getattr(app, "_sdmbench_plugin_commands", False):
            return
        app._sdmbench_plugin_commands = True
        for name, plugin in self.manager.list_name_plugin():
            caller = self.manager.subset_hook_caller(
                "sdmbench_register_commands",
                remove_plugins=[p for n, p in self.manager.list_name_plugin() if n != name])
            try:
                caller(app=app)
            except Exception as exc:  # a broken command must not take the others down
                self.failures.setdefault(name, f"{type(exc).__name__} in sdmbench_register_commands: {exc}")

    def __getattr__(self, kind: str) -> Registry:
        # plugins.neuron, plugins.model, ...
        registries = self.__dict__.get("registries", {})
        if kind in registries:
            return registries[kind]
        raise AttributeError(kind)


def disabled_names() -> set:
    raw = os.environ.get("SDMBENCH_DISABLE_PLUGINS", "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def _entry_points() -> Iterable[metadata.EntryPoint]:
    return sorted(metadata.entry_points(group=GROUP), key=lambda ep: ep.name)


def build(modules: Iterable[Tuple[str, object]] = (), *, entry_points: bool = True) -> Plugins:
    """Load plugins and fill the registries.

    ``modules`` are extra ``(name, module_or_object)`` plugins registered
    directly (what :mod:`sdmbench.plugin_api.testing` uses); ``entry_points=False`` skips
    discovery.
    """
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    plugins = Plugins(registries={kind: Registry(kind, CONTRACTS.get(kind)) for kind in KINDS}, manager=pm)
    skip = disabled_names()
    candidates: List[Tuple[str, str, Optional[object]]] = []
    if entry_points:
        for ep in _entry_points():
            dist = ep.dist.name if ep.dist is not None else "?"
            if ep.name in skip or dist in skip:
                plugins.disabled.append(ep.name)
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    obj = ep.load()
            except Exception as exc:  # a broken plugin must not kill the CLI
                plugins.failures[ep.name] = f"{type(exc).__name__}: {exc}"
                continue
            candidates.append((ep.name, dist, obj))
    for name, obj in modules:
        candidates.append((name, "(local)", obj))

    for name, dist, obj in candidates:
        if pm.is_registered(obj) or pm.has_plugin(name):
            continue
        try:
            pm.register(obj, name=name)
        except Exception as exc:
            plugins.failures[name] = f"{type(exc).__name__}: {exc}"
            continue
        plugins.loaded[name] = dist
    while True:  # a misspelt hook disables its plugin, reported by name
        try:
            pm.check_pending()
            break
        except pluggy.PluginValidationError as exc:
            name = pm.get_name(exc.plugin) or str(exc.plugin)
            plugins.failures[name] = str(exc)
            pm.unregister(exc.plugin)
            plugins.loaded.pop(name, None)

    names = [name for name, _ in pm.list_name_plugin()]
    for kind, hook in KINDS.items():
        registry = plugins.registries[kind]
        for name in sorted(names, key=_builtin_first):
            others = [pm.get_plugin(n) for n in names if n != name]
            caller = pm.subset_hook_caller(hook, remove_plugins=others)
            registry.current_plugin = name
            try:
                caller(registry=registry)
            except DuplicateName as exc:
                raise UsageError(str(exc)) from None
            except ContractError as exc:
                plugins.failures.setdefault(name, f"plugin '{name}' breaks a contract: {exc}")
            except Exception as exc:
                plugins.failures.setdefault(name, f"{type(exc).__name__} in {hook}: {exc}")
        registry.current_plugin = "<unknown>"
    return plugins


def _builtin_first(name: str) -> Tuple[int, str]:
    return (0 if name.startswith("sdmbench") else 1, name)


_CACHE: Optional[Plugins] = None


def get() -> Plugins:
    """The process-wide plugins, discovered once."""
    global _CACHE
    if _CACHE is None:
        _CACHE = build()
    return _CACHE


def reset() -> None:
    """Forget the discovered plugins (tests that change the environment)."""
    global _CACHE
    _CACHE = None
