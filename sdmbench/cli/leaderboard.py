"""``sdmbench leaderboard``: rank recorded runs, or show the published board."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

from sdmbench.plugin_api import loader as plugin_loader
from sdmbench.cli.console import app, out
from sdmbench.errors import UsageError


@app.command("leaderboard")
def leaderboard_cmd(
    results_dir: Optional[Path] = typer.Option(None, help="folder of run records (else $SDMBENCH_RESULTS, ./results)"),
    dataset: Optional[str] = typer.Option(None, help="only this dataset"),
    fmt: str = typer.Option("table", "--format", help="table, markdown, csv, json, or html (a static site; "
                                                      "needs --out DIR)"),
    output: Optional[Path] = typer.Option(None, help="write to this file instead of stdout"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="with --format html: the site's folder"),
    baseline: Optional[str] = typer.Option(None, help="an entry's name (sdm-ann, or sdm/tsm where a model has an entry per neuron): every entry's FID and "
                                                      "energy as a ratio to it, with 95% intervals and Welch's p"),
    energy_model: Optional[str] = typer.Option(None, help="the energy model that prices energy (sdmbench plugins "
                                                          "lists them; default: the registered default)"),
):
    """Rank recorded runs by FID within each (dataset, protocol)."""
    from sdmbench.board import leaderboard
    from sdmbench.running.config import results_dir as pick_results_dir
    from sdmbench.running.records import check_writable, load_records

    formats = {"table": None, "markdown": leaderboard.to_markdown, "csv": leaderboard.to_csv,
               "json": leaderboard.to_json, "html": None}
    if fmt not in formats:
        raise UsageError(f"unknown format '{fmt}'; use one of: {', '.join(formats)}")
    if (fmt == "html") != (out_dir is not None):
        raise UsageError("--format html writes a site: give its folder with --out DIR" if fmt == "html"
                         else "--out DIR is for --format html; use --output FILE for the other formats")
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir} is a file; give a folder for the site")
    if out_dir is not None:
        check_writable(out_dir, "the site")
    if output is not None:
        check_writable(output.parent, output.name)
    folder = _board_folder(results_dir, pick_results_dir)
    records, problems = load_records(folder)
    for p in problems:
        print(f"warning: skipped unreadable record {p}", file=sys.stderr)
    plugins = plugin_loader.get()
    energy = _energy_model(plugins, energy_model)
    pairs = board_pairs(records, plugins, dataset, baseline, energy)
    table = [row for _, row in pairs]
    if baseline and table and not any("fid_ratio" in row for row in table):
        names = sorted({e.name for e, row in pairs if row["section"] == "ranked"})
        raise UsageError(f"--baseline '{baseline}' names no ranked entry; ranked entries: {', '.join(names)}")
    if not table:
        print(f"no run records in {folder}" + (f" for dataset '{dataset}'" if dataset else ""), file=sys.stderr)
    if fmt == "html":
        from sdmbench.board.site import build_site

        index = build_site(pairs, folder, out_dir, energy)
        print(f"wrote {len(pairs)} entries to {index} (open it in a browser; it needs no network)", file=sys.stderr)
        return
    if fmt == "table":
        if table:
            out.print(leaderboard.to_rich(table, out.width))
        return
    text = formats[fmt](table)
    if output:
        output.write_text(text)
    else:
        sys.stdout.write(text)


def _energy_model(plugins, name: Optional[str]):
    """``(name, model)`` of the chosen energy model, else of the first registered as a default (the built-in
    one, whatever plugins also claim it: a board prices alike everywhere); None when there is none."""
    registry = plugins.energy_model
    name = name or registry.first_default()
    return None if name is None else (name, registry.get(name)())


def preset_lookup(plugins):
    """``preset_of(record)``: the config the record's model, neuron, dataset, preset and options make with
    no other setting (:func:`sdmbench.running.configure.preset_config`), else the one the record kept when it
    was made (its plugins are not installed here); None when neither is known."""
    import json

    from sdmbench.running.configure import preset_config as made

    cache = {}

    def preset_of(record):
        c = record.get("config") or {}
        key = json.dumps([record["model"], c.get("neuron"), c.get("dataset"), c.get("preset"), c.get("options")],
                         sort_keys=True, default=str)
        if key not in cache:
            cache[key] = made(plugins, record["model"], c.get("neuron"), c.get("dataset"), c.get("preset"),
                              c.get("options"))
        return cache[key] if cache[key] is not None else record.get("preset")

    return preset_of


def board_pairs(records, plugins, dataset: Optional[str] = None, baseline: Optional[str] = None, energy=None):
    """The leaderboard's ``(entry, row)`` pairs of ``records``, as every format of the command shows them; the
    protocols of the first-registered default extractor lead (the built-in one, whatever else claims it)."""
    from sdmbench.board import leaderboard

    return leaderboard.entry_rows(records, dataset, aliases=plugins.model.aliases(),
                                  preset_of=preset_lookup(plugins), baseline=baseline, energy=energy,
                                  lead=plugins.extractor.first_default())


def board_markdown(folder: Path, plugins) -> str:
    """What ``sdmbench leaderboard --results-dir FOLDER --format markdown`` prints (a board's README)."""
    from sdmbench.board import leaderboard
    from sdmbench.running.records import load_records

    records, _ = load_records(folder)
    pairs = board_pairs(records, plugins, energy=_energy_model(plugins, None))
    return leaderboard.to_markdown([row for _, row in pairs])


def made_elsewhere(folder: Path, plugins) -> list:
    """The ids of the runs in ``folder`` whose board row cannot be made here: a metric they ran is not
    installed (its columns are unknown), or their preset is neither made here nor kept in their record
    (made before records kept it, by a model or neuron not installed here: ranked and trial cannot be told)."""
    from sdmbench.running.records import load_records

    records, _ = load_records(folder)
    aliases, preset_of = plugins.model.aliases(), preset_lookup(plugins)
    return [r["run_id"] for r in records if r.get("config") and (
        not all(m in plugins.metric for m in r["config"].get("metrics") or ())
        or preset_of(dict(r, model=aliases.get(r["model"], r["model"]))) is None)]


PUBLISHED = Path("leaderboard")  # the published board, in a checkout of the repository


def _board_folder(flag: Optional[Path], pick) -> Path:
    """The folder of records to show: the one given (it must exist), else the
    results folder, else, when that has no runs yet, the published board here."""
    given = flag or os.environ.get("SDMBENCH_RESULTS")
    folder = Path(pick(str(flag) if flag else None))
    if given:
        if not folder.is_dir():
            raise UsageError(f"no results folder at {folder}; pass --results-dir DIR of run folders")
        return folder
    if any(folder.glob("*/record.json")):
        return folder
    if any(PUBLISHED.glob("*/record.json")):
        print(f"note: no runs in {folder} yet; showing the published leaderboard in {PUBLISHED}/ "
              f"(--results-dir DIR shows another folder)", file=sys.stderr)
        return PUBLISHED
    print(f"note: no runs in {folder} yet; the published leaderboard is the leaderboard/ folder of the sdmbench "
          "repository: sdmbench leaderboard --results-dir PATH/leaderboard", file=sys.stderr)
    return folder
