"""Rescoring finished runs under another protocol (``sdmbench score``).

A run keeps its samples (``samples.npz``) and its weights
(``stage-<name>.pt``). :func:`check` reads and validates everything one
rescoring needs before any work starts; :func:`rescore` then scores the
first N samples under the chosen extractor and metrics. When N is more than
the run kept, the pipeline is rebuilt from its saved weights and generates
the missing batches only: batch ``i`` is seeded by
:func:`sdmbench.running.sampling.sample_seed`, so the extended set is exactly what a
run with that N would have generated, and ``samples.npz`` grows in place
(its first images unchanged).

The new scores are appended to ``record["rescores"]`` under their protocol;
the record's own ``protocol`` and ``metrics`` are never changed, and a
protocol the record already holds is not scored twice. Metrics measured
during the sampling pass (``energy``) describe the generation, not the
samples: they cannot be chosen here; :mod:`sdmbench.running.recount` counts them
again over a new pass of the saved weights.
"""
from __future__ import annotations

import dataclasses
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import torch

from sdmbench.running.config import RunConfig
from sdmbench.errors import UsageError
from sdmbench.running.records import RECORD_FILE, hardware, read_config, read_record, stamp, write_record
from sdmbench.running.sampling import save_samples
from sdmbench.scoring.metric import Metric, Scores
from sdmbench.scoring.protocol import protocol_key

SAMPLES_FILE = "samples.npz"


@dataclass
class Target:
    """One run folder, checked: its record, config, kept samples (uint8 NCHW) and whether it has weights."""

    folder: Path
    record: Dict[str, Any]
    config: RunConfig
    samples: Optional[torch.Tensor]
    stages: List[Path]


def observes_sampling(metric: Metric) -> bool:
    return type(metric).observe is not Metric.observe


def read_samples(path: Path) -> Optional[torch.Tensor]:
    """A run's ``samples.npz`` as uint8 ``[N, C, H, W]`` (None when absent); read without pickle."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            array = archive["arr_0"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        why = "neither .npz nor .npy" if "pickle" in str(exc) else str(exc)[:80]  # numpy's last resort: unpickling
        raise UsageError(f"{path}: not a samples archive ({why}); {remedy(path)}") from None
    if array.dtype != np.uint8 or array.ndim != 4 or not len(array) or array.shape[-1] not in (1, 3):
        raise UsageError(f"{path}: expected uint8 [N, H, W, C] images (N >= 1, C 1 or 3) under arr_0, got "
                         f"{array.dtype} {array.shape}; {remedy(path)}")
    return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()


def remedy(path: Path) -> str:
    """What to do about a bad ``samples.npz``: make it again from the run's weights when the folder keeps
    them; a published run keeps none, so its file is copied again from the board it came from."""
    if any(path.parent.glob("stage-*.pt")):
        return "delete it to regenerate from the run's weights"
    return "the folder keeps no weights to make it again: copy it again from the board or run it came from"


def check_size(samples: Optional[torch.Tensor], record: Dict[str, Any], path: Path) -> None:
    """The kept samples are the size every protocol of ``record`` scored (its ``image_size``), or they are
    not the samples those scores came from: a one-line error, before any dataset or extractor is loaded."""
    protocols = [record.get("protocol") or {}] + [r.get("protocol") or {} for r in record.get("rescores", [])]
    sizes = {p["image_size"] for p in protocols if p.get("image_size")}
    if samples is None or not sizes:
        return
    h, w = samples.shape[-2:]
    if h != w or h not in sizes:
        scored = " and ".join(f"{s}x{s}" for s in sorted(sizes))
        raise UsageError(f"{path}: holds {h}x{w} images, but the run was scored on {scored} ones, so these are "
                         f"not the samples its scores came from; {remedy(path)}")


def check(folder: Path, num_samples: Optional[int]) -> Target:
    """Everything rescoring ``folder`` needs, read and checked (a one-line error otherwise)."""
    from sdmbench.running.runner import check_saved_state

    record = read_record(folder, "score")
    if not os.access(folder, os.W_OK) or not os.access(folder / RECORD_FILE, os.W_OK):
        raise UsageError(f"score: {folder} is not writable, and the new scores join its record.json; copy the "
                         "run folder somewhere writable and score the copy")
    config = RunConfig.from_dict(read_config(folder, "score"))
    samples = read_samples(folder / SAMPLES_FILE)
    check_size(samples, record, folder / SAMPLES_FILE)
    stages = sorted(folder.glob("stage-*.pt"))
    have = 0 if samples is None else len(samples)
    want = wanted(num_samples, samples, config)
    if want > have and not stages:
        if samples is None:
            raise UsageError(f"{folder}: the run keeps no samples.npz and no saved weights (stage-*.pt); runs "
                             "made before sdmbench kept samples cannot be rescored")
        raise UsageError(f"{folder}: the run kept {have} samples and has no saved weights (stage-*.pt) to "
                         f"generate {want} from; rescore it with --num-samples {have} or less")
    if want > have:
        check_saved_state(folder, "score")
    return Target(folder, record, config, samples, stages)


def wanted(num_samples: Optional[int], samples: Optional[torch.Tensor], config: RunConfig) -> int:
    """N: the one asked for, else as many as the run kept, else the run's own ``num_samples``."""
    return num_samples or (len(samples) if samples is not None else config.num_samples)


def load_pipeline(target: Target, config: RunConfig, plugins, device, progress=None, log=print):
    """The run's pipeline, rebuilt under ``config`` with its saved weights loaded."""
    from sdmbench.running.checkpoint import load_state
    from sdmbench.running.runner import Run, build_pipeline

    recipe = plugins.model.get(config.model)()
    run = Run(config, plugins, recipe, device, target.record["run_id"], target.folder, progress, log)
    pipeline = build_pipeline(run)
    for stage in pipeline.stages:
        pipeline.load_stage(stage, load_state(target.folder / f"stage-{stage}.pt", device, "score"))
    return pipeline


def extend(target: Target, n: int, plugins, device, progress=None, log=print) -> torch.Tensor:
    """``n`` samples: the kept ones, plus batches generated from the run's saved weights."""
    from sdmbench.running.sampling import sample

    have = 0 if target.samples is None else len(target.samples)
    if n <= have:
        return target.samples[:n]
    config = dataclasses.replace(target.config, num_samples=n)
    first = have // config.sample_batch_size  # a last, partial batch is made again whole
    pipeline = load_pipeline(target, config, plugins, device, progress, log)
    new, _ = sample(pipeline, config, [], progress, label=f"sample {n - have} more", first_batch=first)
    kept = target.samples[:first * config.sample_batch_size] if target.samples is not None \
        else torch.empty((0, *new.shape[1:]), dtype=torch.uint8)
    samples = torch.cat([kept, new])
    save_samples(samples, target.folder / SAMPLES_FILE)
    return samples


def known_keys(record: Dict[str, Any]) -> List[str]:
    return [record.get("protocol_key")] + [r["protocol_key"] for r in record.get("rescores", [])]


def rescore(target: Target, plugins, extractor_name: str, metric_names: List[str], num_samples: Optional[int],
            device, progress=None, log=print, data_root: Optional[str] = None,
            extractor_options: Optional[Dict[str, Any]] = None,
            extractors: Optional[Dict[tuple, Any]] = None) -> Optional[Dict[str, Any]]:
    """Score ``target`` under the chosen protocol and append it to its record; None when the record
    already holds that protocol (nothing changes). ``extractors``: a cache shared by the runs one command
    rescores, so an extractor is built, and a reference's features extracted, once for all of them."""
    from sdmbench.scoring.evaluate import evaluate, protocol_for
    from sdmbench.scoring.extractor import CachedExtractor

    config = target.config
    data = plugins.dataset.get(config.dataset)(data_root or config.data_root, config.split, config.image_size)
    metrics = {name: plugins.metric.get(name)() for name in metric_names}
    extractor = None
    if any(getattr(m, "needs_features", True) for m in metrics.values()):
        extractors = {} if extractors is None else extractors
        options = dict(extractor_options or {})
        key = (extractor_name, data.name, data.split, data.image_size, str(device), tuple(sorted(options.items())))
        if key not in extractors:
            extractors[key] = CachedExtractor(plugins.extractor.get(extractor_name)(
                data, device=device, progress=progress, **options))
        extractor = extractors[key]
    n = wanted(num_samples, target.samples, config)
    protocol = protocol_for(n, data, config, extractor, metrics,
                            target.record["protocol"].get("sampler_options") or {})
    key = protocol_key(protocol)
    if key in known_keys(target.record):
        return None
    samples = extend(target, n, plugins, device, progress, log)
    if samples.shape[1:] != (data.channels, data.image_size, data.image_size):
        raise UsageError(f"{target.folder}: samples of shape {tuple(samples.shape[1:])} do not match "
                         f"{data.name} at {data.image_size}px")
    _, scores = evaluate(protocol, samples, data, extractor, metrics, sampling={"steps": config.sample_steps},
                         progress=progress)
    entry = {"protocol": protocol, "protocol_key": key, "metrics": Scores.flat(scores),
             "details": {name: s.details for name, s in scores.items() if s.details},
             **stamp(), "scored_on": hardware(torch.device("cpu"))}
    target.record = write_record(target.folder, dict(target.record, rescores=target.record.get("rescores", []) + [entry]))
    return entry
