"""The leaderboard: records ranked by FID within (dataset, protocol).

Records made under different protocols are shown in separate groups and
never ranked together. A run whose training diverged (``record["diverged"]``)
is listed with rank ``diverged`` after the ranked runs, never ranked. Text
from records is made safe for every format: control characters become
spaces, markdown escapes ``|`` and HTML, csv cells cannot start a formula.
Formats: a rich table, markdown, csv, json.
"""
from __future__ import annotations

import csv
import html
import io
import json
import re
from collections import defaultdict
from typing import Any, Dict, List

from sdmbench.scoring.protocol import describe, describe_sampler

COLUMNS = ("rank", "model", "neuron", "T", "fid", "energy_mj_per_image", "mean_firing_rate", "sampler",
           "parameters_m", "train_steps", "run_id")


def rows(records: List[Dict[str, Any]], dataset: str | None = None,
         aliases: Dict[str, str] | None = None) -> List[Dict[str, Any]]:
    """One row per record, with its group (dataset + protocol) and rank;
    ``aliases`` maps deprecated model names to their current ones."""
    groups: Dict[tuple, list] = defaultdict(list)
    aliases = aliases or {}
    for r in records:
        r = dict(r, model=aliases.get(r["model"], r["model"]))
        if dataset and r.get("dataset") != dataset:
            continue
        groups[(r["dataset"], r["protocol_key"])].append(r)
    out = []
    for (ds, key), members in sorted(groups.items()):
        members.sort(key=lambda r: (bool(r.get("diverged")), r["metrics"].get("fid") is None,
                                    r["metrics"].get("fid") or 0.0))
        for rank, r in enumerate(members, 1):
            out.append(_row(ds, key, "diverged" if r.get("diverged") else rank, r))
    return out


def _row(dataset: str, key: str, rank, r: Dict[str, Any]) -> Dict[str, Any]:
    m = r["metrics"]
    return {
        "dataset": _text(dataset), "protocol_key": _text(key), "protocol": _text(describe(r["protocol"])),
        "rank": rank, "model": _text(r["model"]), "neuron": _text(r.get("neuron") or "-"), "T": r["T"],
        "fid": _round(m.get("fid"), 2), "energy_mj_per_image": _round(m.get("energy_per_image_mj"), 4),
        "mean_firing_rate": _round(m.get("mean_firing_rate"), 3),
        "sampler": _text(describe_sampler(r["protocol"])),
        "parameters_m": _round(r["parameters"] / 1e6, 3), "train_steps": r["training"]["steps"],
        "run_id": _text(r["run_id"]),
    }


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
    return "-" if v is None else str(v)


def to_markdown(table: List[Dict[str, Any]]) -> str:
    lines = ["# sdmbench leaderboard", "",
             "Ranked by FID within each dataset and scoring protocol; runs under different protocols are "
             "never ranked together. Energy is per generated image (4.6 pJ/MAC, 0.9 pJ/SOP).", ""]
    current = None
    for row in table:
        group = (row["dataset"], row["protocol_key"])
        if group != current:
            current = group
            lines += ["", f"### {_md(row['dataset'])} — protocol `{_md(row['protocol_key'])}`", "",
                      f"{_md(row['protocol'])}", "",
                      "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        lines.append("| " + " | ".join(_md(_cell(row[c])) for c in COLUMNS) + " |")
    return "\n".join(lines).strip() + "\n"


def to_csv(table: List[Dict[str, Any]]) -> str:
    buf = io.StringIO()
    fields = ["dataset", "protocol_key", *COLUMNS, "protocol"]
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows({k: _csv(v) for k, v in row.items()} for row in table)
    return buf.getvalue()


def to_json(table: List[Dict[str, Any]]) -> str:
    return json.dumps(table, indent=2)


#: the columns a narrow terminal keeps (the rest: a wider terminal, or --format markdown/csv/json)
NARROW = ("rank", "model", "neuron", "T", "fid", "energy_mj_per_image", "mean_firing_rate")
TEXT = ("model", "neuron", "sampler", "run_id")
HEADERS = {"energy_mj_per_image": "mJ/image", "mean_firing_rate": "firing rate", "parameters_m": "M params",
           "train_steps": "steps"}


def to_rich(table: List[Dict[str, Any]], width: int = 200):
    """Rich tables, one per protocol; below 150 columns only :data:`NARROW`,
    numbers never cut (text columns fold instead)."""
    from rich.console import Group
    from rich.markup import escape
    from rich.table import Table

    columns = COLUMNS if width >= 150 else NARROW
    tables, current, t = [], None, None
    for row in table:
        group = (row["dataset"], row["protocol_key"])
        if group != current:
            current = group
            caption = escape(row["protocol"]) + ("" if columns == COLUMNS else
                                                 " · more columns: a wider terminal or --format markdown")
            t = Table(title=escape(f"{row['dataset']} · protocol {row['protocol_key']}"), caption=caption)
            for c in columns:
                text = c in TEXT
                t.add_column(HEADERS.get(c, c), justify="left" if text else "right",
                             overflow="fold", no_wrap=not text,
                             min_width=None if text else max(len(_cell(r[c])) for r in table))
            tables.append(t)
        t.add_row(*(escape(_cell(row[c])) for c in columns))
    return Group(*tables)
