"""What a metric shows: its columns on the board, the site, a run's summary and a sweep's table.

A metric declares ``columns``, a tuple of :class:`Column`, one per value it
wants shown, in the order it wants them; values it does not declare stay in
the record (``record["metrics"]``) and in ``--format json``'s records, and
are shown nowhere else. The core reads only these declarations: the board,
the site, ``sdmbench run``'s closing line and ``sdmbench sweep``'s table
never name a metric's values, so a third-party metric shows up in every
format without a core change.

The installed metrics' columns, in the order the metrics were registered
(built-ins first), scores before values of the run, are :func:`installed`; a metric that is disabled or not installed
shows no column, even where records hold its values. A board shows those
of them that some record holds (:func:`held`), so a metric installed here
that none of its runs ran adds no empty column to it.

Two roles are the board's own and belong to one column each:

- the *ranking* column (``ranks=True``, FID): entries are ranked by its 95%
  interval, sorted by its mean, and, against a baseline, tested with Welch's
  test (``<name>_p``, Holm-adjusted ``<name>_p_holm``);
- columns ``of_the_run`` (energy, firing rate) come from the run's own
  sampling pass, not from the protocol's scoring: every rescoring of a run
  keeps them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterable, Optional, Sequence, Tuple


@dataclass(frozen=True)
class Column:
    """One shown value: ``record["metrics"][key]``.

    ``header``: its heading in every table; ``digits``: decimals a board row keeps (mean and interval
    bounds); ``lower_is_better``: which way is better (None: neither); ``name``: its field in a board row,
    csv and json (default ``key``); ``label``: the value in words where ``header`` is a unit (``energy``
    for ``mJ/image``); ``summary``: its format in a run's closing line (``"FID {:.2f}"``;
    None: not there); ``headline``: one of the few values a narrow terminal, a sweep's table and the over-seeds line show;
    ``ratio``: the field of its ratio to a baseline entry (None: not compared); ``ranks`` and
    ``of_the_run``: see the module."""

    key: str
    header: str
    digits: int = 3
    lower_is_better: Optional[bool] = True
    name: Optional[str] = None
    label: Optional[str] = None
    summary: Optional[str] = None
    headline: bool = False
    ratio: Optional[str] = None
    ranks: bool = False
    of_the_run: bool = False

    def __post_init__(self):
        if not self.key or not self.header:
            raise ValueError("a column needs a key (its value's name in the record) and a header")
        if self.ranks and not self.ratio:
            raise ValueError(f"column {self.key}: the ranking column is compared with a baseline; give it a ratio")

    @property
    def field(self) -> str:
        """Its field in a board row."""
        return self.name or self.key

    def text(self, value: Optional[float]) -> Optional[str]:
        """Its part of a run's closing line, or None (no format, or no value)."""
        return None if self.summary is None or value is None else self.summary.format(value)


def of_metrics(metrics: Sequence[Any]) -> Tuple[Column, ...]:
    """The columns ``metrics`` declare, in their order; a value declared twice shows once (the first)."""
    seen, out = set(), []
    for metric in metrics:
        for column in getattr(metric, "columns", ()) or ():
            if not isinstance(column, Column):
                raise TypeError(f"metric {getattr(metric, 'name', metric)!r}: columns holds {column!r}, "
                                "not a sdmbench.scoring.Column")
            if column.key not in seen:
                seen.add(column.key)
                out.append(column)
    return tuple(out)


def installed(plugins=None) -> Tuple[Column, ...]:
    """The columns of every installed metric (``plugins``: the process-wide ones by default), in the order
    the metrics were registered, the scores before the values of the run's own sampling pass."""
    if plugins is None:
        from sdmbench.plugin_api import loader as found

        plugins = found.get()
    columns = of_metrics(entry() for entry in plugins.metric.registered())
    return scores(columns) + of_runs(columns)


def held(columns: Sequence[Column], records: Iterable[Dict[str, Any]]) -> Tuple[Column, ...]:
    """The ``columns`` whose value some record holds (in its metrics or a rescoring's): what a board of
    ``records`` shows, the same on every machine whatever other metrics are installed there."""
    keys = set()
    for record in records:
        for metrics in [record.get("metrics") or {}] + [s.get("metrics") or {} for s in record.get("rescores") or ()]:
            keys.update(k for k, v in metrics.items() if v is not None)
    return tuple(c for c in columns if c.key in keys)


def of_rows(columns: Sequence[Column], rows: Sequence[Dict[str, Any]]) -> Tuple[Column, ...]:
    """The ``columns`` whose field board ``rows`` carry (those :func:`held` kept when the rows were made)."""
    return tuple(c for c in columns if any(c.field in row for row in rows)) if rows else tuple(columns)


def ranking(columns: Sequence[Column]) -> Optional[Column]:
    """The column entries are ranked by (None: no installed metric ranks, so nothing is ranked)."""
    return next((c for c in columns if c.ranks), None)


def scores(columns: Sequence[Column]) -> Tuple[Column, ...]:
    """The columns a scoring protocol makes (a rescoring replaces them)."""
    return tuple(c for c in columns if not c.of_the_run)


def of_runs(columns: Sequence[Column]) -> Tuple[Column, ...]:
    """The columns of the run's own sampling pass (every rescoring keeps them)."""
    return tuple(c for c in columns if c.of_the_run)


def compared(columns: Sequence[Column]) -> Tuple[Column, ...]:
    """The columns shown as a ratio to a baseline entry."""
    return tuple(c for c in columns if c.ratio)


def versus_fields(columns: Sequence[Column], bounds: bool) -> Tuple[str, ...]:
    """A row's fields against a baseline, in order: each compared column's ratio (with its interval bounds
    when ``bounds``), the ranking column's Welch p and Holm-adjusted p after its ratio."""
    out = []
    for c in compared(columns):
        out += [c.ratio, f"{c.ratio}_ci_low", f"{c.ratio}_ci_high"] if bounds else [c.ratio]
        if c.ranks:
            out += [f"{c.field}_p", f"{c.field}_p_holm"]
    return tuple(out)
