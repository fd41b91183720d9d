"""``sdmbench sweep CONFIG.toml``: a grid of runs, handed to an executor.

The file::

    results_dir = "results/grid"      # optional (else --results-dir, $SDMBENCH_RESULTS, ./results)
    study = "compute-scaling"         # optional: every run's record names this study

    [grid]                            # every combination is a run
    model = ["sdm", "sdm-ann"]
    neuron = ["if", "tsm"]
    T = [4, 8]
    dataset = ["fashion-mnist"]
    seed = [0, 1]

    [settings]                        # the same for every run: any run setting, tables for nested ones
    preset = "smoke"
    train_steps = 200

    [executor]                        # optional: name and options of a registered executor
    name = "slurm"
    partition = "gpu"
    timeout_min = 240

Several ``[[grid]]`` tables instead of one ``[grid]``: their runs together
(an ablation: each change alone, then all together). Grid keys are run settings (``model``, ``neuron``, ``T``, ``dataset``,
``seed``, or any other, e.g. ``lr``); a scalar is a one-value axis.
A dotted key reaches a nested setting (``"backbone.stem" = ["spiking",
"analog"]``). ``train_steps_scale = [0.25, 1, 4]`` multiplies each run's own preset
training steps (``round(scale * steps)``: 0.25 x 2000 for one model, 0.25 x
1000 for another in the same grid). Models
without neurons (an ANN twin) take the neuron and T axes once, not once per
value. Without an ``[executor]`` the registry's default executor runs the jobs.
Every run's config is resolved and checked before any job starts, so a typo
fails the whole sweep at once, with nothing run.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from sdmbench.running.config import RunConfig, merge
from sdmbench.running.config import results_dir as results_dir_of
from sdmbench.running.configure import configure, spiking_settings_only_if_spiking
from sdmbench.errors import UsageError

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

SECTIONS = {"results_dir", "study", "grid", "settings", "executor"}
#: a grid or settings key: the model preset's training steps times this (rounded), per run
SCALE = "train_steps_scale"


@dataclass(frozen=True)
class Job:
    """One run of the grid: its resolved config (picklable, runs anywhere)."""

    config: Dict[str, Any]
    label: str


@dataclass
class Outcome:
    """One run's end: ``values`` are its record's metrics (the sweep's table shows the headline columns)."""

    label: str
    ok: bool
    run_dir: Optional[str] = None
    values: Dict[str, Optional[float]] = field(default_factory=dict)
    error: Optional[str] = None


@dataclass
class Sweep:
    jobs: List[Job]
    executor: str
    options: Dict[str, Any]
    results_dir: str


def load(path: Path, results_dir: Optional[str] = None, executor: Optional[str] = None,
         executor_options: Optional[Dict[str, Any]] = None, plugins=None) -> Sweep:
    """Read and expand a sweep file; every run is validated here."""
    from sdmbench.plugin_api import loader as plugin_loader

    plugins = plugins or plugin_loader.get()
    try:
        spec = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UsageError(f"no sweep file at {path}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path} is not a valid TOML sweep file ({exc})") from None
    unknown = set(spec) - SECTIONS
    if unknown:
        raise UsageError(f"{path}: unknown section or key '{sorted(unknown)[0]}'; use {', '.join(sorted(SECTIONS))}")
    grids = spec.get("grid") or {}
    grids = grids if isinstance(grids, list) else [grids]
    if not grids or not all(isinstance(g, dict) and g for g in grids):
        raise UsageError(f"{path}: [grid] is missing or empty; give lists like model = [\"sdm\", \"sdm-ann\"]")
    settings = dict(spec.get("settings") or {})
    if any("dataset" not in grid for grid in grids) and "dataset" not in settings:
        raise UsageError(f"{path}: name the dataset(s) in [grid] or [settings]")
    folder = results_dir or spec.get("results_dir")
    jobs, seen = [], set()
    for point in (p for grid in grids for p in _points(grid, path)):
        config = _resolve(point, settings, folder, plugins, path, spec.get("study"))
        resolved = config.to_dict()
        key = repr(sorted(resolved.items()))
        if key in seen:  # e.g. an ANN under every neuron: one run
            continue
        seen.add(key)
        jobs.append(Job(resolved, _label(config, point)))
    options = dict(spec.get("executor") or {})
    name = executor or options.pop("name", None) or plugins.executor.default("executor (--executor)")
    options.pop("name", None)  # when --executor named it
    options.update(executor_options or {})
    plugins.executor.get(name)
    return Sweep(jobs, name, options, results_dir_of(folder))


def _points(grid: Dict[str, Any], path) -> List[Dict[str, Any]]:
    """Every combination of one grid's axes."""
    axes = {key: values if isinstance(values, list) else [values] for key, values in grid.items()}
    if any(not values for values in axes.values()):
        raise UsageError(f"{path}: grid axis '{next(k for k, v in axes.items() if not v)}' has no values")
    return [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]


def _resolve(point: Dict[str, Any], settings: Dict[str, Any], folder, plugins, path,
             study: Optional[str] = None) -> Tuple[RunConfig, bool]:
    merged = dict(settings)
    for key, value in point.items():  # a dotted axis ("backbone.stem") reaches a nested setting
        *parents, leaf = key.split(".")
        nested = {leaf: value}
        for part in reversed(parents):
            nested = {part: nested}
        merged = merge(merged, nested)
    scale = merged.pop(SCALE, None)
    overrides = {"model": merged.pop("model", None), "preset": merged.pop("preset", None), "results_dir": folder,
                 "study": study}
    try:
        merged = spiking_settings_only_if_spiking(plugins, overrides["model"], merged)
        config = configure(plugins, overrides, merged)
        if scale is not None:
            if not isinstance(scale, (int, float)) or isinstance(scale, bool) or scale <= 0:
                raise UsageError(f"{SCALE} must be a positive number, got {scale!r}")
            config = configure(plugins, overrides, {**merged, "train_steps": max(1, round(scale * config.train_steps))})
    except UsageError as exc:
        raise UsageError(f"{path}: run {point}: {exc}") from None
    return config


def _label(config: RunConfig, point: Dict[str, Any]) -> str:
    parts = [config.model] + ([config.neuron, f"T{config.T}"] if config.spiking else [])
    parts += [config.dataset, f"seed{config.seed}"]
    parts += [f"{k}={v}" for k, v in point.items() if k not in ("model", "neuron", "T", "dataset", "seed")]
    return " ".join(parts)


def run_job(job: Job) -> Outcome:
    """Run one job in this process (what every executor calls, locally or on a node)."""
    from sdmbench.hardware import distributed
    from sdmbench.running.runner import execute

    _export_submitit_ranks()
    try:
        result = execute(RunConfig.from_dict(job.config), log=lambda *a: None)
    except UsageError as exc:
        return Outcome(job.label, False, error=str(exc))
    finally:
        distributed.teardown()
    metrics = result.record["metrics"] if result.record else {}
    return Outcome(job.label, True, str(result.folder), dict(metrics))


def _export_submitit_ranks() -> None:
    """In a submitit job of several tasks, set torchrun's variables (RANK, WORLD_SIZE, ...)."""
    import os

    if "SUBMITIT_EXECUTOR" not in os.environ:
        return
    try:
        import submitit
        from submitit.helpers import TorchDistributedEnvironment

        if submitit.JobEnvironment().num_tasks > 1:
            TorchDistributedEnvironment().export()
    except RuntimeError:  # not inside a submitit job after all
        pass
