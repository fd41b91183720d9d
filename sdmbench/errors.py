"""User-facing errors.

A :class:`UsageError` is bad input (an unknown name, missing data, an
impossible setting). The command line prints its message on one line and
exits with status 2; everything else is a bug and keeps its traceback.
"""
import difflib
from typing import Iterable


class UsageError(Exception):
    """Bad input: the message says what is wrong and how to fix it."""


def unknown_name(kind: str, name: str, known: Iterable[str], plural: str = "") -> UsageError:
    """An error for an unknown ``name`` of ``kind`` listing what exists (under ``plural``, else ``kind + s``)."""
    known, kind = sorted(known), kind.replace("_", " ")  # a registry's kind (energy_model) in words
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    listing = ", ".join(known) if known else "none registered"
    return UsageError(f"unknown {kind} '{name}'.{hint} Known {plural or _plural(kind)}: {listing}.")


def _plural(kind: str) -> str:
    return kind + ("es" if kind.endswith("s") else "s")
