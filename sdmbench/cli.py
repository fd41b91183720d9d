"""The ``sdmbench`` command line (typer + rich).

Bad input (a :class:`~sdmbench.errors.UsageError` or a usage error of the
command line itself) prints one line, ``error: ...``, on stderr and exits
with status 2.
"""
from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.table import Table

from sdmbench import __version__
from sdmbench import plugins as plugin_loader
from sdmbench.errors import UsageError

try:  # typer >= 0.20 vendors click as typer._click
    from typer._click import exceptions as _click_exc
except ImportError:  # pragma: no cover - older typer
    from click import exceptions as _click_exc

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Train, sample and score spiking diffusion models under one protocol.")
out = Console()
err = Console(stderr=True)
PLURAL = {"process": "processes"}


class _LazyProgress(Progress):
    """Progress bars that appear with the first task, so an early error stays one line."""

    def __enter__(self):
        return self

    def add_task(self, *args, **kwargs):
        if not self.live.is_started:
            self.start()
        return super().add_task(*args, **kwargs)

    def __exit__(self, *exc):
        if self.live.is_started:
            self.stop()


def _progress(transient: bool = False) -> Progress:
    return _LazyProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                         TextColumn("eta"), TimeRemainingColumn(), console=err, transient=transient)


def _warn_failures(plugins) -> None:
    for name, reason in plugins.failures.items():
        print(f"warning: plugin '{name}' failed to load and is skipped: {reason}", file=sys.stderr)


@app.command("plugins")
def plugins_cmd(as_json: bool = typer.Option(False, "--json", help="machine-readable output")):
    """List every registered neuron, backbone, process, dataset, metric, extractor and model."""
    plugins = plugin_loader.get()
    listing = {kind: [{"name": e.name, "description": e.description, "plugin": e.plugin,
                       "distribution": plugins.loaded.get(e.plugin, "?")} for e in registry]
               for kind, registry in plugins.registries.items()}
    if as_json:
        print(json.dumps({"plugins": listing, "failed": plugins.failures, "disabled": plugins.disabled}, indent=2))
        return
    _warn_failures(plugins)
    for kind, entries in listing.items():
        table = Table(title=PLURAL.get(kind, kind + "s"), title_justify="left", expand=False)
        for col in ("name", "description", "plugin (distribution)"):
            table.add_column(col)
        for e in entries:
            table.add_row(e["name"], e["description"], f"{e['plugin']} ({e['distribution']})")
        out.print(table)


@app.command("run")
def run_cmd(
    model: Optional[str] = typer.Option(None, help="model recipe (sdmbench plugins) [default: sdm]"),
    neuron: Optional[str] = typer.Option(None, help="spiking neuron [default: if]"),
    dataset: Optional[str] = typer.Option(None, help="dataset name (required unless --resume)"),
    preset: Optional[str] = typer.Option(None, help="smoke (tests, <90 s CPU), quick (~15 min CPU), paper (GPU) "
                                                   "[default: smoke]"),
    split: Optional[str] = typer.Option(None, help="training/reference split: train or test"),
    T: Optional[int] = typer.Option(None, "--T", help="spiking time steps"),
    threshold: Optional[float] = typer.Option(None, help="firing threshold v_th at inference (training uses 1.0)"),
    bits: Optional[int] = typer.Option(None, help="conversion models: activation bits b; T = 2^b - 1 unless --T"),
    fine_tune: Optional[bool] = typer.Option(None, "--fine-tune/--no-fine-tune",
                                             help="conversion models: fine-tune the converted SNN to the ANN"),
    sampler: Optional[str] = typer.Option(None, help="sampler of the process (ddpm, ddim, analytic; unmask)"),
    sample_steps: Optional[int] = typer.Option(None, help="denoising steps when sampling"),
    temperature: Optional[float] = typer.Option(None, help="sampling temperature (discrete diffusion)"),
    num_samples: Optional[int] = typer.Option(None, help="images generated for scoring"),
    train_steps: Optional[int] = typer.Option(None, help="optimiser steps"),
    batch_size: Optional[int] = typer.Option(None, help="training batch size"),
    extractor: Optional[str] = typer.Option(None, help="FID feature extractor: classifier or inception"),
    inception_weights: Optional[Path] = typer.Option(None, help="path to torch-fidelity's Inception weights"),
    seed: Optional[int] = typer.Option(None, help="random seed"),
    device: Optional[str] = typer.Option(None, help="auto, cpu or cuda"),
    threads: Optional[int] = typer.Option(None, help="CPU threads for torch"),
    data_root: Optional[Path] = typer.Option(None, help="folder with datasets (else $SDMBENCH_DATA)"),
    results_dir: Optional[Path] = typer.Option(None, help="where records go (else $SDMBENCH_RESULTS, ./results)"),
    resume: Optional[Path] = typer.Option(None, help="a run folder: reuse its config and its finished stages"),
    rerun: Optional[str] = typer.Option(None, help="with --resume: train this stage (and later ones) again"),
    init_from: Optional[Path] = typer.Option(None, help="a finished run to fine-tune (e.g. --neuron tsm from an if "
                                                        "run); its settings, 1/10 of its training steps"),
    settings: Optional[List[str]] = typer.Option(None, "--set", help="KEY=VALUE for any config setting, dotted "
                                                 "for nested ones (backbone.ch=64); repeatable"),
):
    """Train, sample, score and record one model."""
    from sdmbench.config import parse_settings, resolve
    from sdmbench.runner import execute, saved_config

    plugins = plugin_loader.get()
    _warn_failures(plugins)
    overrides = dict(model=model, neuron=neuron, dataset=dataset, preset=preset, split=split, T=T,
                     threshold=threshold, bits=bits, fine_tune=fine_tune, sampler=sampler, sample_steps=sample_steps, temperature=temperature,
                     num_samples=num_samples, train_steps=train_steps, batch_size=batch_size, extractor=extractor,
                     inception_weights=str(inception_weights) if inception_weights else None, seed=seed,
                     device=device, threads=threads, data_root=str(data_root) if data_root else None,
                     results_dir=str(results_dir) if results_dir else None)
    if rerun and not resume:
        raise UsageError("--rerun goes with --resume RUN_DIR")
    if init_from and resume:
        raise UsageError("--init-from starts a new run; --resume continues one: pass only one of them")
    if init_from:
        base = saved_config(init_from, "--init-from")
        for key in ("results_dir", "init_from"):
            base.pop(key, None)
        base["train_steps"] = max(1, int(base.get("train_steps", 10)) // 10)  # the paper: < 1/10 of training
        overrides["init_from"] = str(init_from)
        overrides["results_dir"] = overrides["results_dir"] or str(init_from.parent)
    elif resume:
        base = saved_config(resume)
        base.pop("results_dir", None)
        overrides["results_dir"] = overrides["results_dir"] or str(resume.parent)
    else:
        if dataset is None:
            raise UsageError("Missing option '--dataset' (or --resume RUN_DIR)")
        base = plugins.model.get(model or "sdm")().preset(preset or "smoke")
    config = resolve(base, overrides, parse_settings(settings))
    if os.environ.get("RANK", "0") != "0":  # under torchrun rank 0 alone reports
        execute(config, progress=None, plugins=plugins, log=lambda *a: None, resume=resume, rerun=rerun)
        return
    with _progress() as progress:
        folder = execute(config, progress=progress, plugins=plugins, log=err.print, resume=resume, rerun=rerun)
    record = json.loads((folder / "record.json").read_text())
    m = record["metrics"]
    out.print(f"FID ({record['protocol']['extractor']}) {m.get('fid', float('nan')):.2f} · energy "
              f"{m.get('energy_per_image_mj', float('nan')):.4f} mJ/image · mean firing rate "
              f"{m.get('mean_firing_rate') if m.get('mean_firing_rate') is not None else '-'}")
    out.print(f"record: {folder / 'record.json'}")
    out.print(f"samples: {folder / 'samples.png'}")


@app.command("leaderboard")
def leaderboard_cmd(
    results_dir: Optional[Path] = typer.Option(None, help="folder of run records (else $SDMBENCH_RESULTS, ./results)"),
    dataset: Optional[str] = typer.Option(None, help="only this dataset"),
    fmt: str = typer.Option("table", "--format", help="table, markdown, csv or json"),
    output: Optional[Path] = typer.Option(None, help="write to this file instead of stdout"),
):
    """Rank recorded runs by FID within each (dataset, protocol)."""
    from sdmbench import leaderboard
    from sdmbench.config import results_dir as pick_results_dir
    from sdmbench.records import load_records

    formats = {"table": None, "markdown": leaderboard.to_markdown, "csv": leaderboard.to_csv,
               "json": leaderboard.to_json}
    if fmt not in formats:
        raise UsageError(f"unknown format '{fmt}'; use one of: {', '.join(formats)}")
    folder = Path(pick_results_dir(str(results_dir) if results_dir else None))
    records, problems = load_records(folder)
    for p in problems:
        print(f"warning: skipped unreadable record {p}", file=sys.stderr)
    table = leaderboard.rows(records, dataset)
    if not table:
        print(f"no run records in {folder}" + (f" for dataset '{dataset}'" if dataset else ""), file=sys.stderr)
    if fmt == "table":
        if table:
            out.print(leaderboard.to_rich(table))
        return
    text = formats[fmt](table)
    if output:
        output.write_text(text)
    else:
        sys.stdout.write(text)


@app.command("sweep-threshold")
def sweep_threshold_cmd(
    run_dir: Path = typer.Argument(..., help="a finished run of a spiking model"),
    values: str = typer.Option("0.997,0.998,0.999,1.0,1.001,1.002,1.003", help="thresholds, comma-separated"),
    results_dir: Optional[Path] = typer.Option(None, help="where the per-value records go (default: beside RUN_DIR)"),
):
    """Threshold guidance: score a trained run at several inference thresholds."""
    from sdmbench.sweep import parse_values, sweep

    thresholds = parse_values(values)
    if not run_dir.is_dir():
        raise UsageError(f"no run folder at {run_dir}")
    plugins = plugin_loader.get()
    with _progress(transient=True) as progress:
        rows = sweep(run_dir, thresholds, {"results_dir": str(results_dir) if results_dir else None}, plugins,
                     progress=progress, log=lambda *a: None)
    table = Table(title=f"threshold guidance · {run_dir.name}")
    for col in ("v_th", "FID", "energy mJ/image", "mean firing rate", "run id"):
        table.add_column(col, justify="left" if col == "run id" else "right")
    best = min(r["fid"] for r in rows)
    for r in rows:
        fid = f"{r['fid']:.2f}" + (" *" if r["fid"] == best else "")
        table.add_row(f"{r['threshold']:g}", fid, f"{r['energy_per_image_mj']:.4f}",
                      f"{r['mean_firing_rate']:.4f}", r["run_id"])
    out.print(table)
    out.print(f"plot: {run_dir / 'threshold-sweep.png'}")


@app.command("sweep")
def sweep_cmd(
    config_file: Path = typer.Argument(..., help="a TOML file with [grid], [settings] and [executor] tables"),
    executor: Optional[str] = typer.Option(None, help="local (default), slurm, submitit-local, or a plugin's"),
    partition: Optional[str] = typer.Option(None, help="Slurm partition (slurm executor)"),
    timeout_min: Optional[int] = typer.Option(None, help="time limit of each job in minutes (submitit)"),
    gpus_per_node: Optional[int] = typer.Option(None, help="GPUs per job (submitit)"),
    tasks_per_node: Optional[int] = typer.Option(None, help="processes (ranks) per node of each job (submitit)"),
    results_dir: Optional[Path] = typer.Option(None, help="where the runs' records go (else the file's "
                                                          "results_dir, $SDMBENCH_RESULTS, ./results)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="list the runs of the grid and start none"),
):
    """Expand a grid (models x neurons x T x datasets x seeds ...) into runs and execute them."""
    from sdmbench.grid import load

    plugins = plugin_loader.get()
    _warn_failures(plugins)
    options = {k: v for k, v in dict(partition=partition, timeout_min=timeout_min, gpus_per_node=gpus_per_node,
                                     tasks_per_node=tasks_per_node).items() if v is not None}
    sweep = load(config_file, results_dir=str(results_dir) if results_dir else None, executor=executor,
                 executor_options=options, plugins=plugins)
    if dry_run:
        for job in sweep.jobs:
            out.print(job.label)
        out.print(f"{len(sweep.jobs)} runs, executor {sweep.executor}, results in {sweep.results_dir}")
        return
    try:
        runner = plugins.executor.get(sweep.executor)(**sweep.options)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"executor '{sweep.executor}': {exc}") from None
    with _progress() as progress:
        outcomes = runner.run(sweep.jobs, progress=progress)
    table = Table(title=f"sweep {config_file.name}: {len(outcomes)} runs, executor {sweep.executor}")
    for col in ("run", "status", "FID", "energy mJ/image", "folder or error"):
        table.add_column(col)
    for o in outcomes:
        table.add_row(o.label, "ok" if o.ok else "failed", f"{o.fid:.2f}" if o.fid is not None else "-",
                      f"{o.energy_mj:.4f}" if o.energy_mj is not None else "-", o.run_dir or o.error or "")
    out.print(table)
    out.print(f"compare them: sdmbench leaderboard --results-dir {sweep.results_dir}")
    failed = [o for o in outcomes if not o.ok]
    if failed:
        print(f"error: {len(failed)} of {len(outcomes)} runs failed; the others are recorded", file=sys.stderr)
        sys.exit(1)


import_app = typer.Typer(help="Turn checkpoints of published code into sdmbench runs.", no_args_is_help=True)
app.add_typer(import_app, name="import")


def _int_list(text: str, flag: str) -> List[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"{flag} takes comma-separated integers like 1,2,2,4, got '{text}'") from None
    if not values:
        raise UsageError(f"{flag} is empty")
    return values


@import_app.command("sddpm")
def import_sddpm_cmd(
    checkpoint: Path = typer.Argument(..., help="their .pt file (net_model / ema_model state dicts)"),
    out_dir: Path = typer.Option(..., "--out", help="new run folder to write"),
    dataset: str = typer.Option("cifar10", help="dataset the checkpoint was trained on (for scoring)"),
    ch_mult: str = typer.Option("1,2,2,4", help="channel multipliers it was trained with"),
    res_blocks: int = typer.Option(2, help="residual blocks per level"),
    T: Optional[int] = typer.Option(None, "--T", help="spiking time steps (read from TSM gains when present) "
                                                      "[default: 4]"),
    img_size: int = typer.Option(32, help="image size it was trained at"),
    img_ch: Optional[int] = typer.Option(None, help="image channels (checked against the checkpoint)"),
    key: Optional[str] = typer.Option(None, help="which state dict in the file [default: ema_model, else net_model]"),
    ch: Optional[int] = typer.Option(None, help="base channels (checked against the checkpoint)"),
):
    """Import an SDDPM (Spk_UNet) or SDM (Spk_UNet_TSM) checkpoint as a run folder."""
    from sdmbench.api import import_sddpm

    if not checkpoint.is_file():
        raise UsageError(f"no checkpoint file at {checkpoint}")
    folder = import_sddpm(checkpoint, out_dir, dataset=dataset, ch_mult=_int_list(ch_mult, "--ch-mult"),
                          num_res_blocks=res_blocks, T=T, img_size=img_size, img_ch=img_ch, key=key, ch=ch)
    info = json.loads((folder / "imported.json").read_text())
    out.print(f"imported {'SDM (TSM)' if info['tsm'] else 'SDDPM'} U-Net, T={info['T']}, "
                           f"{info['shape']} -> {folder}")
    out.print(f"sample and score it with: sdmbench run --resume {folder}")


@app.command("version")
def version_cmd():
    """Print the sdmbench version."""
    print(__version__)


class _Stopped(Exception):
    """SIGTERM under torchrun: the agent stops the other ranks when one fails."""


def _stop(signum, frame):
    raise _Stopped()


def main(argv=None) -> None:
    from sdmbench import distributed

    argv = list(sys.argv[1:] if argv is None else argv) or ["--help"]
    in_torchrun = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if in_torchrun:
        signal.signal(signal.SIGTERM, _stop)
    try:
        app(args=argv, standalone_mode=False)
    except _Stopped:
        print(f"error: rank {os.environ.get('RANK')}: stopped by torchrun because another rank failed; the run "
              "folder keeps its last checkpoint: continue with --resume RUN_DIR", file=sys.stderr)
        sys.exit(1)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except _click_exc.ClickException as exc:
        print(f"error: {exc.format_message()}".replace("\n", " "), file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("error: interrupted; nothing was recorded for the unfinished run", file=sys.stderr)
        sys.exit(130)
    except RuntimeError as exc:
        if not in_torchrun:
            raise
        print(f"error: rank {os.environ.get('RANK')}: the distributed run failed "
              f"({str(exc).splitlines()[0][:200]}); another rank probably died: the run folder keeps its last "
              "checkpoint, continue with --resume RUN_DIR", file=sys.stderr)
        sys.exit(1)
    finally:
        distributed.teardown()
