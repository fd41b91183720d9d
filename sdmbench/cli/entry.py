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
from typing import Optional

import typer
from rich.table import Table

from sdmbench import __version__
from sdmbench.cli import board, leaderboard, run, runs, score  # noqa: F401  (their commands join the app)
from sdmbench.plugin_api import loader as plugin_loader
from sdmbench.cli.console import PLURAL, app, out, progress_bars, warn_failures
from sdmbench.errors import UsageError

try:  # typer >= 0.20 vendors click as typer._click
    from typer._click import exceptions as _click_exc
except ImportError:  # pragma: no cover - older typer
    from click import exceptions as _click_exc

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
    warn_failures(plugins)
    for kind, entries in listing.items():
        table = Table(title=PLURAL.get(kind, kind + "s"), title_justify="left", expand=False)
        for col in ("name", "description", "plugin (distribution)"):
            table.add_column(col)
        for e in entries:
            table.add_row(e["name"], e["description"], f"{e['plugin']} ({e['distribution']})")
        out.print(table)


@app.command("sweep")
def sweep_cmd(
    config_file: Path = typer.Argument(..., help="a TOML file with the tables grid (the axes), settings (the same for every run) and executor"),
    executor: Optional[str] = typer.Option(None, help="a registered executor (sdmbench plugins) [default: the file's, else the registry's default]"),
    partition: Optional[str] = typer.Option(None, help="Slurm partition (slurm executor)"),
    timeout_min: Optional[int] = typer.Option(None, help="time limit of each job in minutes (submitit)"),
    gpus_per_node: Optional[int] = typer.Option(None, help="GPUs per job (submitit)"),
    tasks_per_node: Optional[int] = typer.Option(None, help="processes (ranks) per node of each job (submitit)"),
    results_dir: Optional[Path] = typer.Option(None, help="where the runs' records go (else the file's "
                                                          "results_dir, $SDMBENCH_RESULTS, ./results)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="list the runs of the grid and start none"),
):
    """Expand a grid (models x neurons x T x datasets x seeds ...) into runs and execute them."""
    from sdmbench.scoring.columns import installed
    from sdmbench.running.sweep import load

    plugins = plugin_loader.get()
    warn_failures(plugins)
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
    with progress_bars() as progress:
        outcomes = runner.run(sweep.jobs, progress=progress)
    headline = [c for c in installed() if c.headline]
    table = Table(title=f"sweep {config_file.name}: {len(outcomes)} runs, executor {sweep.executor}")
    for col in ("run", "status", *(c.header for c in headline), "folder or error"):
        table.add_column(col)
    for o in outcomes:
        values = [o.values.get(c.key) for c in headline]
        table.add_row(o.label, "ok" if o.ok else "failed",
                      *("-" if v is None else f"{v:.{c.digits}f}" for c, v in zip(headline, values)),
                      o.run_dir or o.error or "")
    out.print(table)
    out.print(f"compare them: sdmbench leaderboard --results-dir {sweep.results_dir}")
    failed = [o for o in outcomes if not o.ok]
    if failed:
        print(f"error: {len(failed)} of {len(outcomes)} runs failed; the others are recorded", file=sys.stderr)
        sys.exit(1)


@app.command("version")
def version_cmd():
    """Print the sdmbench version."""
    print(__version__)


class _Stopped(Exception):
    """SIGTERM under torchrun: the agent stops the other ranks when one fails."""


def _stop(signum, frame):
    raise _Stopped()


def main(argv=None) -> None:
    from sdmbench.hardware import distributed
    from sdmbench.running.interrupt import Interrupted

    argv = list(sys.argv[1:] if argv is None else argv) or ["--help"]
    plugins = plugin_loader.get()
    plugins.register_commands(app)  # plugins' own commands (sdmbench import sddpm, ...)
    in_torchrun = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if in_torchrun:
        signal.signal(signal.SIGTERM, _stop)
    try:
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:  # a command's typer.Exit(N): its exit status
            sys.exit(code)
    except Interrupted as exc:
        if distributed.world().main:
            print(f"interrupted: {exc}", file=sys.stderr)
        sys.exit(130)
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
