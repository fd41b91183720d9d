"""Registries: one per plugin kind, filled through the pluggy hooks.

Contract: ``registry.add(name, factory, *, description="", default=False)``.
Names are lower-case words joined by ``-``, ``_`` or ``.`` (no whitespace, no
path separators), unique across all plugins; a second registration of a name
is an error naming both plugins. A registry built with a
:class:`~sdmbench.plugin_api.contracts.Contract` checks every entry against it when it
is added. ``registry.get(name)`` returns the :class:`Entry` or raises a
:class:`~sdmbench.errors.UsageError` that lists the known names and suggests
the closest.

``default=True`` marks what a run uses when neither the user nor the model's
preset names one (the metrics scored, the feature extractor, the sweep
executor, ...): the core never names a built-in plugin, the plugins say which
of theirs are the defaults. ``registry.alias(old, new)`` keeps a renamed entry
loadable under its old name, with a deprecation warning.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional

from sdmbench.plugin_api.contracts import Contract, check
from sdmbench.errors import UsageError, unknown_name

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
    default: bool = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.factory(*args, **kwargs)


class Registry:
    """Named factories of one kind (``neuron``, ``backbone``, ...)."""

    def __init__(self, kind: str, contract: Optional[Contract] = None):
        self.kind = kind
        self.contract = contract
        self._entries: Dict[str, Entry] = {}
        self._aliases: Dict[str, str] = {}
        self.current_plugin = "<unknown>"

    def add(self, name: str, factory: Callable[..., Any], *, description: str = "", default: bool = False) -> None:
        """Register ``factory`` under ``name`` for the plugin being loaded."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(
                f"invalid {self.kind} name {name!r} from plugin '{self.current_plugin}': "
                "use lower-case letters, digits, '-', '_' or '.'"
            )
        if not callable(factory):
            raise TypeError(f"{self.kind} '{name}' from plugin '{self.current_plugin}' is not callable")
        if name in self._entries or name in self._aliases:
            other = self._entries[name].plugin if name in self._entries else self._entries[self._aliases[name]].plugin
            raise DuplicateName(
                f"{self.kind} '{name}' is registered twice: by plugin '{other}' and by plugin "
                f"'{self.current_plugin}'. Disable one with SDMBENCH_DISABLE_PLUGINS."
            )
        if self.contract is not None:
            check(self.kind, name, factory, self.contract)
        self._entries[name] = Entry(self.kind, name, factory, description, self.current_plugin, default)

    def alias(self, old: str, new: str) -> None:
        """Let the deprecated name ``old`` stand for the registered ``new``."""
        if new not in self._entries:
            raise ValueError(f"{self.kind} alias '{old}' points at '{new}', which is not registered")
        if old in self._entries or old in self._aliases:
            raise DuplicateName(f"{self.kind} '{old}' is registered twice (alias of '{new}' from plugin "
                                f"'{self.current_plugin}')")
        self._aliases[old] = new

    def canonical(self, name: str) -> str:
        """``name``, or the entry a deprecated alias stands for."""
        return self._aliases.get(name, name)

    def get(self, name: str) -> Entry:
        if name in self._aliases:
            warnings.warn(f"{self.kind} '{name}' is deprecated; it is now '{self._aliases[name]}'",
                          DeprecationWarning, stacklevel=2)
            name = self._aliases[name]
        try:
            return self._entries[name]
        except KeyError:
            raise unknown_name(self.kind, name, self._entries) from None

    def defaults(self) -> List[str]:
        """The names registered with ``default=True``."""
        return [e.name for e in self if e.default]

    def first_default(self) -> Optional[str]:
        """The first-registered entry with ``default=True`` (a built-in one, whatever plugins also claim it),
        or None: what a board orders and compares by, the same wherever other plugins claim a default."""
        return next((e.name for e in self.registered() if e.default), None)

    def default(self, what: str) -> str:
        """The one default entry, for a run setting (``what``) that nobody named."""
        found = self.defaults()
        if len(found) != 1:
            listing = ", ".join(self.names()) or "none registered"
            raise UsageError(f"no {what} given and no single default {self.kind} registered; "
                             f"name one (known: {listing})")
        return found[0]

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._aliases

    def __iter__(self) -> Iterator[Entry]:
        return iter(sorted(self._entries.values(), key=lambda e: e.name))

    def registered(self) -> List[Entry]:
        """The entries in the order they were registered (built-in plugins first, then each plugin's own
        order); iterating gives them by name."""
        return list(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list:
        return sorted(self._entries)

    def aliases(self) -> Dict[str, str]:
        return dict(self._aliases)
