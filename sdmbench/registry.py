"""Registries: one per plugin kind, filled through the pluggy hooks.

Contract: ``registry.add(name, factory, *, description="")``. Names are
lower-case words joined by ``-`` or ``_`` (no whitespace, no path
separators), unique across all plugins; a second registration of a name is an
error naming both plugins. ``registry.get(name)`` returns the :class:`Entry`
or raises a :class:`~sdmbench.errors.UsageError` that lists the known names
and suggests the closest.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator

from sdmbench.errors import unknown_name

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


class DuplicateName(Exception):
    """A name registered twice (a plugin conflict, not user input)."""


@dataclass(frozen=True)
class Entry:
    """A registered plugin object: its name, factory and origin."""

    kind: str
    name: str
    factory: Callable[..., Any]
    description: str
    plugin: str

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.factory(*args, **kwargs)


class Registry:
    """Named factories of one kind (``neuron``, ``backbone``, ...)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: Dict[str, Entry] = {}
        self.current_plugin = "<unknown>"

    def add(self, name: str, factory: Callable[..., Any], *, description: str = "") -> None:
        """Register ``factory`` under ``name`` for the plugin being loaded."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(
                f"invalid {self.kind} name {name!r} from plugin '{self.current_plugin}': "
                "use lower-case letters, digits, '-', '_' or '.'"
            )
        if not callable(factory):
            raise TypeError(f"{self.kind} '{name}' from plugin '{self.current_plugin}' is not callable")
        if name in self._entries:
            other = self._entries[name].plugin
            raise DuplicateName(
                f"{self.kind} '{name}' is registered twice: by plugin '{other}' and by plugin "
                f"'{self.current_plugin}'. Disable one with SDMBENCH_DISABLE_PLUGINS."
            )
        self._entries[name] = Entry(self.kind, name, factory, description, self.current_plugin)

    def get(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            raise unknown_name(self.kind, name, self._entries) from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(sorted(self._entries.values(), key=lambda e: e.name))

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list:
        return sorted(self._entries)

