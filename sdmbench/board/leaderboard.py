"""The leaderboard: seed-aggregated entries ranked by FID within (dataset, protocol).

Entries come from :mod:`sdmbench.board.entries` (runs differing only in their
seed, one entry: mean, 95% interval, number of seeds, rank range). Records
made under different protocols are shown in separate groups and never
ranked together; trials (runs off their preset) and diverged runs are
listed after the ranked entries, never ranked. Text from records is made
safe for every format: control characters become spaces, markdown escapes
``|`` and HTML, csv cells cannot start a formula. Formats: a rich table,
markdown, csv, json; each carries the mean, the interval, the seeds and
the rank range. Which values are shown, in what order, how rounded and
under what heading, the installed metrics declare
(:mod:`sdmbench.scoring.columns`); this module names none of them.
"""
from __future__ import annotations

import csv
import html
import io
import json
import re
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from sdmbench.energy.records import with_energy_of
from sdmbench.board.entries import RANKED, TRIAL, Entry, entries, seed_of
from sdmbench.scoring import columns as shown
from sdmbench.scoring.columns import Column
from sdmbench.scoring.protocol import describe, describe_sampler

#: a row's columns before and after the metrics' (:func:`_columns`)
LEADING, TRAILING = ("rank", "model", "neuron", "T", "seeds"), ("sampler", "parameters_m", "train_steps", "run_ids")
SECTIONS = {RANKED: "Ranked (on their preset)", TRIAL: "Trials (off their preset; not ranked)",
            "diverged": "Diverged (training blew up; not ranked)"}


def rows(records: List[Dict[str, Any]], dataset: str | None = None, aliases: Dict[str, str] | None = None,
         preset_of: Optional[Callable[[Dict[str, Any]], Optional[Dict[str, Any]]]] = None,
         baseline: Optional[str] = None, energy: Optional[Tuple[str, Any]] = None,
         columns: Optional[Sequence[Column]] = None, lead: Optional[str] = None) -> List[Dict[str, Any]]:
    """One row per entry (see :func:`sdmbench.board.entries.entries`; ``lead``: the extractor whose protocols
    come first), flat and escaped, in display order, with each of ``columns`` (default: the installed metrics'
    that some record holds) as mean and interval bounds; with a ``baseline``, each row's ratios to it
    (``fid_ratio``, ``kid_ratio``, ``energy_ratio`` and their interval bounds) and Welch's ``fid_p``; with
    ``energy = (name, model)``, energy under that energy model
    (:func:`sdmbench.energy.records.record_energy`), named in every row."""
    return [row for _, row in entry_rows(records, dataset, aliases, preset_of, baseline, energy, columns, lead)]


def entry_rows(records: List[Dict[str, Any]], dataset: str | None = None, aliases: Dict[str, str] | None = None,
               preset_of: Optional[Callable[[Dict[str, Any]], Optional[Dict[str, Any]]]] = None,
               baseline: Optional[str] = None,
               energy: Optional[Tuple[str, Any]] = None,
               columns: Optional[Sequence[Column]] = None,
               lead: Optional[str] = None) -> List[Tuple[Entry, Dict[str, Any]]]:
    """:func:`rows`, each beside the :class:`~sdmbench.board.entries.Entry` it shows (whose records carry
    the energy under ``energy``'s model)."""
    if energy is not None:
        records = [with_energy_of(r, *energy) for r in records]
    columns = shown.held(shown.installed(), records) if columns is None else tuple(columns)
    out = [(e, _row(e, columns)) for e in entries(records, dataset, aliases, preset_of, baseline, columns, lead)]
    for _, row in out:
        row["energy_model"] = _text(energy[0]) if energy else None
        row["energy_prices"] = _text(getattr(energy[1], "description", "")) if energy else None
    return out


def _row(e: Entry, columns: Sequence[Column]) -> Dict[str, Any]:
    r = e.first
    row = {
        "dataset": _text(e.dataset), "protocol_key": _text(e.protocol_key), "protocol": _text(describe(e.protocol)),
        "section": e.section, "rank": e.rank if e.section == RANKED else e.section,
        "model": _text(e.label),
        "neuron": _text(e.neuron or "-"), "T": r["T"], "seeds": len(e.seeds), "single_seed": len(e.seeds) == 1,
        "seed_list": sorted(seed_of(x) for x in e.records),
    }
    for c in columns:
        est, name, digits = e.values.get(c.key), c.field, c.digits
        row[name] = _round(est.mean if est else None, digits)
        row[f"{name}_ci_low"] = _round(est.low if est and est.n > 1 else None, digits)
        row[f"{name}_ci_high"] = _round(est.high if est and est.n > 1 else None, digits)
    row.update({
        "sampler": _text(describe_sampler(e.protocol)), "parameters_m": _round(r["parameters"] / 1e6, 3),
        "train_steps": r["training"]["steps"], "changes": _text(", ".join(f"{k}={v}" for k, v in e.changes.items())),
        "run_ids": [_text(x["run_id"]) for x in e.records], "study": _text(", ".join(e.studies)),
    })
    if e.versus:
        for c in shown.compared(columns):
            est, name = e.versus.get(c.key), c.ratio
            row[name] = _round(est.mean if est else None, 3)
            row[f"{name}_ci_low"] = _round(est.low if est and est.low != est.high else None, 3)
            row[f"{name}_ci_high"] = _round(est.high if est and est.low != est.high else None, 3)
            if c.ranks:
                for name in (f"{c.field}_p", f"{c.field}_p_holm"):
                    row[name] = None if e.versus.get(name) is None else float(f"{e.versus[name]:.3g}")
    return row


def _text(value: Any) -> str:
    """Record text on one line: control characters (newlines, tabs, escapes) become spaces."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", str(value)).strip()


def _md(value: str) -> str:
    """A markdown table cell: HTML escaped, ``|`` escaped."""
    return html.escape(value, quote=False).replace("|", "\\|")


def _csv(value: Any) -> Any:
    """A csv cell that a spreadsheet will not run as a formula."""
    return "'" + value if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") and value != "-" else value


def _round(x, digits):
    return None if x is None else round(float(x), digits)


def _cell(v) -> str:
    if isinstance(v, list):
        return ", ".join(str(x) for x in v) or "-"
    return "-" if v is None else str(v)


def display(row: Dict[str, Any], column: str, columns: Optional[Sequence[Column]] = None) -> str:
    """A cell as shown: a value with its interval as ``mean ± half-width`` (rounded to its column's digits;
    ``columns`` default to the installed metrics'); seeds marked when single, and with the number of runs
    where some seed has more than one (each seed counts once: :func:`sdmbench.board.entries.per_seed`)."""
    if column == "seeds":
        runs = len(row["run_ids"])
        notes = (["single"] if row["single_seed"] else []) + ([f"{runs} runs"] if runs > row["seeds"] else [])
        return f"{row['seeds']} ({', '.join(notes)})" if notes else str(row["seeds"])
    low, high = row.get(f"{column}_ci_low"), row.get(f"{column}_ci_high")
    if column.endswith("_ratio") and low is not None and high is not None:
        return f"{row[column]} [{low}, {high}]"
    if low is not None and high is not None and row.get(column) is not None:
        found = next((c for c in (shown.installed() if columns is None else columns) if c.field == column), None)
        digits = found.digits if found else 3
        return f"{row[column]} ± {round((high - low) / 2, digits)}"
    return _cell(row[column])


def _columns(section: str, members: List[Dict[str, Any]], metrics: Sequence[Column]) -> tuple:
    """The section's columns: the leading ones, the scores, (with a baseline) the ratios to it, the values of
    the run's own sampling pass, the trailing ones (and a trial's changes, the study)."""
    versus = shown.versus_fields(metrics, bounds=False)
    ratios = versus if versus and any(versus[0] in row for row in members) else ()
    columns = (LEADING + tuple(c.field for c in shown.scores(metrics)) + ratios
               + tuple(c.field for c in shown.of_runs(metrics)) + TRAILING)
    columns += ("changes",) if section == TRIAL else ()
    if any(row.get("study") for row in members):
        columns += ("study",)
    return columns


def _sections(table: List[Dict[str, Any]]):
    """``(dataset, protocol_key, section, rows)`` in display order."""
    out: list = []
    for row in table:
        group = (row["dataset"], row["protocol_key"], row["section"])
        if not out or out[-1][:3] != group:
            out.append((*group, []))
        out[-1][3].append(row)
    return out


INTRO = ("Entries are runs that differ only in their seed: each value is the mean over the seeds ± the "
         "half-width of its 95% confidence interval (Student's t); a single seed has no interval, and a seed run "
         "more than once counts once, as the mean of its runs. Rank "
         "ranges come from the FID intervals: entries whose intervals overlap share ranks. Entries are "
         "ranked only within one dataset and scoring protocol; trials (settings off the preset) and "
         "diverged runs are listed, never ranked. Energy is per generated image, under the energy model "
         "each group names (sdmbench leaderboard --energy-model NAME prices it under another).")


def to_markdown(table: List[Dict[str, Any]], columns: Optional[Sequence[Column]] = None) -> str:
    metrics = shown.of_rows(shown.installed(), table) if columns is None else tuple(columns)
    lines, current = ["# sdmbench leaderboard", "", INTRO, ""], None
    for dataset, key, section, members in _sections(table):
        if (dataset, key) != current:
            current = (dataset, key)
            lines += ["", f"## {_md(dataset)} — protocol `{_md(key)}`", "", _md(members[0]["protocol"]), ""]
            if members[0].get("energy_model"):
                prices = members[0].get("energy_prices")
                lines += [f"Energy model: `{_md(members[0]['energy_model'])}`" +
                          (f" ({_md(prices)})." if prices else "."), ""]
        fields, headers = _columns(section, members, metrics), _headers(metrics)
        lines += ["", f"### {SECTIONS[section]}", "", "| " + " | ".join(headers.get(c, c) for c in fields) + " |",
                  "|" + "---|" * len(fields)]
        lines += ["| " + " | ".join(_md(display(row, c, metrics)) for c in fields) + " |" for row in members]
    return "\n".join(lines).strip() + "\n"


def csv_fields(columns: Sequence[Column]) -> Tuple[str, ...]:
    """The csv header: who and what, each column's mean and bounds, the ratios to a baseline, the rest."""
    return ("dataset", "protocol_key", "section", "rank", "model", "neuron", "T", "seeds", "single_seed", "seed_list",
            *[f"{c.field}{s}" for c in columns for s in ("", "_ci_low", "_ci_high")],
            *shown.versus_fields(columns, bounds=True),
            "energy_model", "sampler", "parameters_m", "train_steps", "changes", "study", "run_ids", "protocol")


def to_csv(table: List[Dict[str, Any]], columns: Optional[Sequence[Column]] = None) -> str:
    buf = io.StringIO()
    fields = csv_fields(shown.of_rows(shown.installed(), table) if columns is None else columns)
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows({k: _csv(" ".join(map(str, v)) if isinstance(v, list) else v) for k, v in row.items()}
                     for row in table)
    return buf.getvalue()


def to_json(table: List[Dict[str, Any]]) -> str:
    return json.dumps(table, indent=2)


TEXT = ("model", "neuron", "sampler", "run_ids", "changes", "study")
HEADERS = {"parameters_m": "M params", "train_steps": "steps"}


def _headers(columns: Sequence[Column]) -> Dict[str, str]:
    """Each field's heading: the columns' own, their ratios' and the ranking column's p-values."""
    out = dict(HEADERS)
    for c in columns:
        out[c.field] = c.header
        if c.ratio:
            out[c.ratio] = f"{c.label or c.header} / baseline [95%]"
        if c.ranks:
            out.update({f"{c.field}_p": f"p (Welch, {c.header})", f"{c.field}_p_holm": "p (Holm)"})
    return out


def narrow(columns: Sequence[Column], section: str = RANKED) -> Tuple[str, ...]:
    """The fields a narrow terminal keeps (the rest: a wider terminal, or --format markdown/csv/json): who,
    and the headline values; a trial's changes in place of its rank (what tells one trial from another)."""
    who = ("model", "neuron", "changes", "seeds") if section == TRIAL else ("rank", "model", "neuron", "seeds")
    return who + tuple(c.field for c in columns if c.headline)


def to_rich(table: List[Dict[str, Any]], width: int = 200, columns: Optional[Sequence[Column]] = None):
    """Rich tables, one per protocol and section; below 150 columns only :func:`narrow`'s,
    numbers never cut (text columns fold instead)."""
    from rich.console import Group
    from rich.markup import escape
    from rich.table import Table

    metrics = shown.of_rows(shown.installed(), table) if columns is None else tuple(columns)
    headers, tables = _headers(metrics), []
    for dataset, key, section, members in _sections(table):
        fields = _columns(section, members, metrics) if width >= 150 else narrow(metrics, section)
        model = members[0].get("energy_model")
        caption = escape(members[0]["protocol"] + (f" · energy: {model}" if model else "")) + ("" if width >= 150 else
                                                    " · more columns: a wider terminal or --format markdown")
        t = Table(title=escape(f"{dataset} · protocol {key} · {SECTIONS[section]}"), caption=caption)
        for c in fields:
            text = c in TEXT
            t.add_column(headers.get(c, c), justify="left" if text else "right", overflow="fold", no_wrap=not text,
                         min_width=None if text else max(len(display(r, c, metrics)) for r in members))
        for row in members:
            t.add_row(*(escape(display(row, c, metrics)) for c in fields))
        tables.append(t)
    return Group(*tables)
