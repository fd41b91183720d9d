"""``sdmbench verify`` and ``sdmbench publish``: check a board's numbers, join a board (:mod:`sdmbench.board.verify`)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import List, Optional

import typer

from sdmbench.plugin_api import loader as plugin_loader
from sdmbench.cli.console import app, err, out, progress_bars
from sdmbench.errors import UsageError

#: what a board keeps of a run: no weights, no checkpoints
KEPT = ("record.json", "config.json", "samples.npz", "samples.png", "train_log.csv")


def check_runs(paths: List[Path], data_root: Optional[str] = None, log=print, progress=None):
    """Findings of every run folder in ``paths``, and of each board README among them (``progress``: a rich
    Progress that counts the runs checked)."""
    from sdmbench.board import verify
    from sdmbench.cli.leaderboard import board_markdown, made_elsewhere
    from sdmbench.energy.model import registered_models

    plugins = plugin_loader.get()
    folders = verify.run_folders(paths)
    scorer, models = verify.Scorer(plugins, data_root), registered_models(plugins)[0]
    loaded = [verify.load_run(folder, scorer) for folder in folders]  # every file checked before any scoring
    findings = []
    task = progress.add_task("verify runs", total=len(folders)) if progress is not None and folders else None
    for i, (folder, run) in enumerate(zip(folders, loaded)):
        log(f"[{i + 1}/{len(folders)}] {folder.name}")
        findings += verify.verify_run(folder, scorer, models, run)
        if task is not None:
            progress.advance(task)
    for path in paths:
        if path.is_dir() and (path / verify.BOARD_FILE).is_file():
            findings += verify.verify_board(path, board_markdown(path, plugins), made_elsewhere(path, plugins))
    return findings


@app.command("verify")
def verify_cmd(
    paths: List[Path] = typer.Argument(..., help="run folders, or boards (folders of run folders)"),
    data_root: Optional[str] = typer.Option(None, help="where the datasets' files are"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="print mismatches and the summary only"),
):
    """Recompute every published number (scores from samples, energy from counts, the entry table); exit 1
    naming any mismatch."""
    from sdmbench.board import verify

    log = (lambda m: None) if quiet else (lambda m: err.print(m, markup=False))
    with progress_bars(transient=True) as bars:  # on a terminal: runs checked, elapsed, eta
        findings = check_runs(paths, data_root, log=log, progress=bars)
    for f in findings:
        if not quiet or f.status == verify.MISMATCH:
            print(f.line())
    counts = {s: sum(f.status == s for f in findings) for s in (verify.MATCH, verify.MISMATCH, verify.UNDERIVABLE)}
    out.print(f"{counts[verify.MATCH]} values match, {counts[verify.MISMATCH]} mismatch, "
              f"{counts[verify.UNDERIVABLE]} not re-derivable", markup=False)
    if counts[verify.MISMATCH]:
        raise typer.Exit(1)


@app.command("publish")
def publish_cmd(
    run_dir: Path = typer.Argument(..., help="a finished run folder"),
    board: Path = typer.Argument(Path("leaderboard"), help="the board's folder"),
    data_root: Optional[str] = typer.Option(None, help="where the datasets' files are"),
):
    """Copy what a board keeps of a run (record, config, samples, grid, curve; no weights) after verify passes,
    then write the board's table (``README.md``) anew from its records, as ``sdmbench verify`` will check it."""
    from sdmbench.board import verify
    from sdmbench.cli.leaderboard import board_markdown
    from sdmbench.energy.model import registered_models

    plugins = plugin_loader.get()
    scorer = verify.Scorer(plugins, data_root)
    target, findings = publish_run(run_dir, board, scorer, registered_models()[0])
    table = board / verify.BOARD_FILE
    write_text_atomic(table, board_markdown(board, plugins))
    out.print(f"published {run_dir.name} to {target} ({sum(f.status == verify.MATCH for f in findings)} values "
              f"verified) and wrote its table anew: {table}; the site: sdmbench leaderboard --results-dir "
              f"{board} --format html --out {board / 'site'}", markup=False, soft_wrap=True)


def write_text_atomic(path: Path, text: str) -> None:
    """``text`` into ``path`` via a temporary file renamed over it: a reader sees the old table or the new."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def publish_run(run_dir: Path, board: Path, scorer, energy_models) -> tuple:
    """Check ``run_dir`` (finished, samples kept, scored under shipped extractors only), verify it, and copy
    what a board keeps into ``board/<run id>`` (atomically); ``(target, findings)``."""
    from sdmbench.board import verify
    from sdmbench.running.records import check_writable, read_record
    from sdmbench.scoring.protocol import is_local

    if run_dir.name.endswith(".incomplete"):
        raise UsageError(f"publish: {run_dir} is unfinished; finish it with sdmbench run --resume {run_dir}")
    record = read_record(run_dir, "publish")
    if not (run_dir / "samples.npz").is_file():
        raise UsageError(f"publish: {run_dir} keeps no samples.npz; a board publishes only runs it can re-derive")
    views = [record.get("protocol") or {}] + [r.get("protocol") or {} for r in record.get("rescores", [])]
    local = [p for p in views if is_local(p)]
    if local:
        raise UsageError(f"publish: {run_dir.name} was scored under a local protocol "
                         f"({local[0]['extractor']}@{local[0]['extractor_version']}); boards rank shipped "
                         "extractors only: rescore it with sdmbench score RUN --extractor classifier")
    if not any(p.get("extractor") for p in views):
        raise UsageError(f"publish: {run_dir.name} has no FID yet; score it first: sdmbench score {run_dir}")
    target = board / run_dir.name
    if target.exists():
        raise UsageError(f"publish: {target} exists already; the board holds this run")
    _check_new_seed(record, board)
    check_writable(board, "the published run")
    findings = verify.verify_run(run_dir, scorer, energy_models)
    bad = [f for f in findings if f.status == verify.MISMATCH]
    if bad:
        raise UsageError(f"publish: {run_dir.name} does not verify: {bad[0].line().strip()}")
    board.mkdir(parents=True, exist_ok=True)
    tmp = board / f".{run_dir.name}.partial{os.getpid()}"  # per process: two publishes never share it
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for name in KEPT:
        if (run_dir / name).is_file():
            shutil.copy2(run_dir / name, tmp / name)
    tmp.rename(target)
    return target, findings


def _check_new_seed(record, board: Path) -> None:
    """Refuse a run whose entry already holds its seed on ``board``: an entry counts each seed once
    (:func:`sdmbench.board.entries.per_seed`), so the run would add no evidence, only move the seed's mean."""
    from sdmbench.board.entries import seed_holders, seed_of
    from sdmbench.running.records import load_records

    held = seed_holders(record, load_records(board)[0], plugin_loader.get().model.aliases())
    if held:
        seed = seed_of(record)
        raise UsageError(f"publish: {board} already holds seed {seed} of this entry ({held[0]}); a board "
                         f"counts each seed once: publish a run of another seed (sdmbench run ... --seeds N)")
