"""``sdmbench runs``: every run of a results folder, its state, step, last loss and time left.

States: ``running`` (an ``.incomplete`` folder whose ``run.pid`` names a live
process on this host), ``incomplete`` (stopped or killed: ``--resume`` it),
``done`` and ``diverged`` (finished; a stage's loss ended above where it
began). Step, loss and time left come from the run's ``train_log.csv``:
time left is the steps still to train in the current stage over its last
measured rate (sampling and scoring not included).
"""
from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Dict, Optional

import typer
from rich.table import Table

from sdmbench.cli.console import app, out
from sdmbench.running.curves import LOG_FILE, read_log
from sdmbench.errors import UsageError
from sdmbench.running.records import CONFIG_FILE, PID_FILE, read_config, read_record


def alive(folder: Path) -> bool:
    """Whether the process named by the folder's ``run.pid`` runs on this host."""
    try:
        pid, host = (folder / PID_FILE).read_text().split()
        if host != socket.gethostname():
            return False
        os.kill(int(pid), 0)
        return True
    except (OSError, ValueError):
        return False


def stage_steps(config: Dict[str, Any], stage: str) -> Optional[int]:
    own = (config.get("stages") or {}).get(stage) or {}
    return own.get("train_steps", config.get("train_steps"))


def status(folder: Path) -> Dict[str, Any]:
    """One row: run id, state, stage, step/total, last loss, time left (seconds)."""
    unfinished = folder.name.endswith(".incomplete")
    state = ("running" if alive(folder) else "incomplete") if unfinished else "done"
    if not unfinished:
        try:
            state = "diverged" if read_record(folder, "runs").get("diverged") else state
        except UsageError:
            state = "unreadable"
    try:
        config = read_config(folder, "runs")
    except UsageError:
        config = {}
    rows = read_log(folder / LOG_FILE)
    last = rows[-1] if rows else None
    row = dict(run=folder.name.removesuffix(".incomplete"), state=state, stage="-", step="-", loss=None, left=None)
    if last is not None:
        total = stage_steps(config, last["stage"])
        row.update(stage=last["stage"], step=f"{last['step']}/{total}" if total else str(last["step"]),
                   loss=last["smooth"])
        rate = last["samples_per_second"] / max(1, config.get("batch_size") or 1)
        if state == "running" and total and rate > 0:
            row["left"] = (total - last["step"]) / rate
    return row


def _time(seconds: Optional[float]) -> str:
    if seconds is None:
        return "-"
    minutes, s = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{s:02d}"


@app.command("runs")
def runs_cmd(results_dir: Optional[Path] = typer.Option(None, help="folder of runs (else $SDMBENCH_RESULTS, "
                                                                     "./results)")):
    """List the runs of a results folder: running, incomplete, done or diverged, with step, loss and time left."""
    from sdmbench.running.config import results_dir as pick

    folder = Path(pick(str(results_dir) if results_dir else None))
    if not folder.is_dir():
        raise UsageError(f"no results folder at {folder}; pass --results-dir DIR")
    runs = sorted((p for p in folder.iterdir() if p.is_dir() and (p / CONFIG_FILE).is_file()),
                  key=lambda p: p.stat().st_mtime)
    table = Table(title=f"runs in {folder}", title_justify="left")
    table.add_column("run", overflow="fold")  # the whole id, over lines if need be: it is what other commands take
    for col in ("state", "stage", "step", "loss", "time left"):
        table.add_column(col, no_wrap=True)
    for p in runs:
        r = status(p)
        table.add_row(r["run"], r["state"], r["stage"], r["step"], "-" if r["loss"] is None else f"{r['loss']:.4f}",
                      _time(r["left"]))
    out.print(table if runs else f"no runs in {folder}")
