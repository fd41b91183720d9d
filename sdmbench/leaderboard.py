"""The leaderboard: records ranked by FID within (dataset, protocol).

Records made under different protocols are shown in separate groups and
never ranked together. Formats: a rich table, markdown, csv, json.
"""
from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from typing import Any, Dict, List

from sdmbench.scoring.protocol import describe, describe_sampler

COLUMNS = ("rank", "model", "neuron", "T", "fid", "energy_mj_per_image", "mean_firing_rate", "sampler",
           "parameters_m", "train_steps", "run_id")


def rows(records: List[Dict[str, Any]], dataset: str | None = None) -> List[Dict[str, Any]]:
    """One row per record, with its group (dataset + protocol) and rank."""
    groups: Dict[tuple, list] = defaultdict(list)
    for r in records:
        if dataset and r.get("dataset") != dataset:
            continue
        groups[(r["dataset"], r["protocol_key"])].append(r)
    out = []
    for (ds, key), members in sorted(groups.items()):
        members.sort(key=lambda r: (r["metrics"].get("fid") is None, r["metrics"].get("fid", 0.0)))
        for rank, r in enumerate(members, 1):
            m = r["metrics"]
            out.append({
                "dataset": ds, "protocol_key": key, "protocol": describe(r["protocol"]),
                "rank": rank, "model": r["model"], "neuron": r.get("neuron") or "-", "T": r["T"],
                "fid": _round(m.get("fid"), 2), "energy_mj_per_image": _round(m.get("energy_per_image_mj"), 4),
                "mean_firing_rate": _round(m.get("mean_firing_rate"), 3),
                "sampler": describe_sampler(r["protocol"]),
                "parameters_m": _round(r["parameters"] / 1e6, 3), "train_steps": r["training"]["steps"],
                "run_id": r["run_id"],
            })
    return out


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
            lines += ["", f"### {row['dataset']} — protocol `{row['protocol_key']}`", "",
                      f"{row['protocol']}", "",
                      "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        lines.append("| " + " | ".join(_cell(row[c]) for c in COLUMNS) + " |")
    return "\n".join(lines).strip() + "\n"


def to_csv(table: List[Dict[str, Any]]) -> str:
    buf = io.StringIO()
    fields = ["dataset", "protocol_key", *COLUMNS, "protocol"]
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(table)
    return buf.getvalue()


def to_json(table: List[Dict[str, Any]]) -> str:
    return json.dumps(table, indent=2)


def to_rich(table: List[Dict[str, Any]]):
    from rich.console import Group
    from rich.table import Table

    tables, current, t = [], None, None
    for row in table:
        group = (row["dataset"], row["protocol_key"])
        if group != current:
            current = group
            t = Table(title=f"{row['dataset']} · protocol {row['protocol_key']}", caption=row["protocol"])
            for c in COLUMNS:
                t.add_column(c, justify="right" if c not in ("model", "neuron", "sampler", "run_id") else "left")
            tables.append(t)
        t.add_row(*(_cell(row[c]) for c in COLUMNS))
    return Group(*tables)
