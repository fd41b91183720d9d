"""Writes the static leaderboard site from leaderboard entries.

Layout of ``out``::

    index.html                 one section per dataset and protocol: the plot, ranked entries, trials
    entries/<slug>.html        one page per entry
    runs/<run id>/record.json  each run's record, and its samples.png where the run folder has one
    plots/<slug>-layers.svg    per-layer firing rate and energy of an entry
    static/                    the CSS and the table-sorting script (shipped in the package)

Every text from a record goes through Jinja2's HTML autoescaping. The pages
depend only on the records (no build time, no absolute path), so the same
records give the same bytes: the committed site can be checked for staleness.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from importlib import resources
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from jinja2 import Environment, PackageLoader, select_autoescape

from sdmbench.board import leaderboard
from sdmbench.energy.details import VALUE as ENERGY
from sdmbench.energy.records import layer_energy
from sdmbench.board.entries import RANKED, Entry, seed_of
from sdmbench.scoring import columns as shown
from sdmbench.scoring.columns import Column
from sdmbench.board.site import plots
from sdmbench.board.site.runs import command, firing_rates, mean_of

#: the table's columns around the metrics' (row key, header); every number links to the entry that made it
LEADING = (("rank", "rank"), ("model", "model"), ("neuron", "neuron"), ("T", "T"), ("seeds", "seeds"))
TRAILING = (("parameters_m", "M params"), ("sampler", "sampler"), ("train_steps", "steps"))


def slug(entry: Entry) -> str:
    """A file name for ``entry``: readable, and unique by a hash of what makes it an entry."""
    key = json.dumps([entry.dataset, entry.protocol_key, entry.label, entry.neuron, entry.section,
                      sorted(r["run_id"] for r in entry.records)], default=str)
    name = re.sub(r"[^a-z0-9]+", "-", f"{entry.dataset}-{entry.label}-{entry.neuron or 'ann'}".lower()).strip("-")
    return f"{name[:60]}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def build_site(pairs: List[Tuple[Entry, Dict[str, Any]]], records_dir: Path, out: Path,
               energy: Optional[Tuple[str, Any]] = None, columns: Optional[Sequence[Column]] = None) -> Path:
    """Write the site for ``pairs`` (:func:`sdmbench.board.leaderboard.entry_rows`) into ``out``; run files
    are read from ``records_dir/<run id>/``. Files of the site's folders that this build does not
    write (entries that left) are removed. The tables show ``columns`` (default: the installed metrics'
    that the rows carry). Returns the path of ``index.html``."""
    metrics = shown.of_rows(shown.installed(), [row for _, row in pairs]) if columns is None else tuple(columns)
    env = Environment(loader=PackageLoader("sdmbench.board.site", "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.globals.update(columns=LEADING + tuple((c.field, c.header) for c in metrics) + TRAILING, metrics=metrics,
                       display=lambda row, key: leaderboard.display(row, key, metrics),
                       sections=leaderboard.SECTIONS, in_words=in_words)
    files = _Files(out)
    for item in resources.files("sdmbench.board.site").joinpath("static").iterdir():
        if item.is_file():
            files.write(f"static/{item.name}", item.read_bytes())
    energy_name = energy[0] if energy else None
    described = getattr(energy[1], "describe", lambda: "")() if energy else ""
    items = [dict(entry=e, row=row, slug=slug(e)) for e, row in pairs]
    copied: Dict[str, bool] = {}  # run id -> has a grid; a rescored run is in one entry per protocol
    for item in items:
        for r in item["entry"].records:
            if r["run_id"] not in copied:
                copied[r["run_id"]] = _copy_run(r, records_dir, files)
        item["grids"] = {r["run_id"]: copied[r["run_id"]] for r in item["entry"].records}
    dates = sorted(str(r.get("created", ""))[:10] for e, _ in pairs for r in e.records)
    common = dict(energy_model=energy_name, energy_description=described, updated=dates[-1] if dates else "-")
    files.write("index.html", env.get_template("index.html").render(groups=_groups(items, energy_name, metrics),
                                                                    **common))
    charts: Dict[tuple, tuple] = {}  # the same runs under another protocol: the same charts, drawn once
    for item in items:
        runs = tuple(r["run_id"] for r in item["entry"].records)
        if runs not in charts:
            charts[runs] = _layers(item["entry"], energy), _curves(item["entry"], records_dir, files)
        layers, curves = charts[runs]
        if layers:
            files.write(f"plots/{item['slug']}-layers.svg", layers)
        if curves:
            files.write(f"plots/{item['slug']}-curves.svg", curves)
        page = env.get_template("entry.html").render(item=item, layers=bool(layers), curves=bool(curves),
                                                     command=command, json=_json, **common)
        files.write(f"entries/{item['slug']}.html", page)
    files.remove_stale(("entries", "runs", "plots", "static"))
    return out / "index.html"


class _Files:
    """The site's files: written only when their content changes, the rest of its folders removable."""

    def __init__(self, out: Path):
        self.out, self.written = out, set()

    def write(self, name: str, content) -> None:
        path = self.out / name
        data = content.encode() if isinstance(content, str) else content
        self.written.add(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_bytes() != data:
            path.write_bytes(data)

    def remove_stale(self, folders) -> None:
        for folder in folders:
            for path in sorted((self.out / folder).rglob("*"), reverse=True):
                if path.is_file() and path not in self.written:
                    path.unlink()
                elif path.is_dir() and not any(path.iterdir()):
                    path.rmdir()


def _groups(items, energy_name, metrics):
    """Per dataset and protocol: its words, its plot and its items by section."""
    groups: "OrderedDict[tuple, dict]" = OrderedDict()
    for item in items:
        e = item["entry"]
        group = groups.setdefault((e.dataset, e.protocol_key), dict(dataset=e.dataset, key=e.protocol_key,
                                                                   protocol=in_words(e.protocol), sections={}))
        group["sections"].setdefault(e.section, []).append(item)
    for group in groups.values():
        members = [i for section in group["sections"].values() for i in section]
        by = shown.ranking(metrics)
        points = [p for p in (_point(i, by) for i in members) if p is not None]
        group["plotted"] = len(points)
        group["plot"] = plots.pareto_svg(points, by.header, energy_name, lambda s: f"entries/{s}.html") if points else ""
    return list(groups.values())


def in_words(protocol: Dict[str, Any]) -> str:
    """The protocol as a sentence: what is scored, on which features, against what."""
    settings = protocol.get("metric_settings") or {}
    kid, prc = settings.get("kid") or {}, settings.get("prc") or {}
    scores = ["FID"]
    if kid:
        scores.append(f"KID (mean over {kid.get('subsets')} subsets of {kid.get('subset_size')})")
    if prc:
        scores.append(f"precision and recall (k = {prc.get('neighbourhood')} nearest neighbours)")
    features = (f"the features of the {protocol['extractor']} extractor (weights {str(protocol['extractor_version'])[:8]})"
                if protocol.get("extractor") else "no feature extractor")
    listed = f"{', '.join(scores[:-1])} and {scores[-1]}" if len(scores) > 1 else scores[0]
    size = protocol["image_size"]
    return (f"{listed} on {features}: {protocol['num_samples']} generated images against "
            f"{protocol['reference_images']} {protocol['reference_split']} images, at {size}x{size} pixels")


def _point(item, by: Optional[Column]) -> Optional[plots.Point]:
    """The entry on the quality-energy plane: the ranking column (FID) against energy per image."""
    e = item["entry"]
    fid, mj = (e.values.get(by.key) if by else None), e.values.get(ENERGY)
    if fid is None or mj is None or mj.mean <= 0:
        return None
    return plots.Point(item["slug"], f"{e.label} {e.neuron or ''}".strip(), mj.mean, mj.low, mj.high,
                       fid.mean, fid.low, fid.high, spiking=bool(e.neuron), ranked=e.section == RANKED)


def _layers(entry: Entry, energy) -> Optional[str]:
    """The per-layer chart of an entry: the mean over its seeds of each layer's firing rate and energy."""
    rates = mean_of([firing_rates(r) for r in entry.records])
    energies = mean_of([layer_energy(r, energy[1]) or {} for r in entry.records]) if energy else {}
    return plots.layers_svg(rates, energies, energy[0] if energy else None)


def _curves(entry: Entry, records_dir: Path, files: "_Files") -> Optional[str]:
    """The entry's seeds' training curves overlaid (each run's own also written as runs/<id>/curve.svg)."""
    from sdmbench.running.curves import LOG_FILE, read_log

    logs = {r["run_id"]: read_log(records_dir / r["run_id"] / LOG_FILE) for r in entry.records}
    for run_id, rows in logs.items():
        single = plots.curves_svg({run_id: rows}) if rows else None
        if single:
            files.write(f"runs/{run_id}/curve.svg", single)
    repeated = entry.repeated
    seeds = {f"seed {seed_of(r)}" + (f" ({r['run_id']})" if seed_of(r) in repeated else ""): logs[r["run_id"]]
             for r in entry.records}
    return plots.curves_svg(seeds)


def _copy_run(record: Dict[str, Any], records_dir: Path, files: _Files) -> bool:
    """Copy the run's record (as its run wrote it, where its folder is here) and its sample grid;
    whether it has a grid."""
    folder = records_dir / record["run_id"]
    original = folder / "record.json"
    files.write(f"runs/{record['run_id']}/record.json", original.read_bytes() if original.is_file()
                else json.dumps(record, indent=2, default=str) + "\n")
    grid = folder / "samples.png"
    if grid.is_file():
        files.write(f"runs/{record['run_id']}/samples.png", grid.read_bytes())
    return grid.is_file()


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)
