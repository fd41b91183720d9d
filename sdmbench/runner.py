"""One run, one direction: config -> model -> train -> sample -> score -> record.

Every name and setting is checked before any work starts. The run writes into
a hidden folder ``<results>/.tmp-<run id>/`` that becomes ``<results>/<run id>/``
only once the record is complete, so a failed run leaves no partial record.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

import torch
from torchvision.utils import save_image

from sdmbench import allocator, plugins as plugin_loader
from sdmbench.config import RunConfig
from sdmbench.data import to_uint8
from sdmbench.errors import UsageError
from sdmbench.neuron import neuron_maker
from sdmbench.records import SCHEMA_VERSION, RECORD_FILE, git_commit, hardware, package_versions, write_json_atomic
from sdmbench.scoring.metric import ScoringContext
from sdmbench.scoring.protocol import make_protocol, protocol_key
from sdmbench.training import train

DEFAULT_METRICS = ("fid", "energy")
TRAIN_THRESHOLD = 1.0  # v_th while training; --threshold changes it at inference only (SDM's threshold guidance)


@dataclass
class Built:
    """The resolved plugins of a run."""

    recipe: Any
    neuron: Any
    backbone: Any
    process: Any
    dataset: Any
    extractor: Any
    metrics: Dict[str, Any]


def resolve_plugins(config: RunConfig, plugins=None, metrics=DEFAULT_METRICS) -> Built:
    plugins = plugins or plugin_loader.get()
    recipe = plugins.model.get(config.model)()
    neuron = plugins.neuron.get(config.neuron) if recipe.spiking else None
    built = Built(recipe=recipe, neuron=neuron, backbone=plugins.backbone.get(recipe.backbone),
                  process=plugins.process.get(recipe.process), dataset=plugins.dataset.get(config.dataset),
                  extractor=plugins.extractor.get(config.extractor),
                  metrics={name: plugins.metric.get(name) for name in metrics})
    samplers = getattr(built.process.factory, "samplers", None)
    if samplers is not None and config.sampler not in samplers:
        from sdmbench.errors import unknown_name

        raise unknown_name(f"sampler of process '{recipe.process}'", config.sampler, samplers)
    return built


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError("--device cuda asked for, but torch sees no CUDA device; use --device cpu")
    return torch.device(name)


def prepare_results_dir(config: RunConfig, run_id: str) -> Path:
    root = Path(config.results_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / f".tmp-{run_id}"
        tmp.mkdir()
        probe = tmp / ".probe"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"results directory '{root}' is not writable ({exc.strerror}); "
                         "pass --results-dir DIR or set SDMBENCH_RESULTS") from None
    return tmp


def make_run_id(config: RunConfig) -> str:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    neuron = config.neuron if config.model != "ddpm" else "ann"
    return f"{config.model}-{neuron}-{config.dataset}-{config.preset}-{stamp}-{uuid.uuid4().hex[:6]}"


def execute(config: RunConfig, progress=None, plugins=None, log=print) -> Path:
    """Run ``config`` end to end; return the run folder holding ``record.json``."""
    built = resolve_plugins(config, plugins)
    device = pick_device(config.device)
    allocator.tune()
    if config.threads:
        torch.set_num_threads(config.threads)
    run_id = make_run_id(config)
    tmp = prepare_results_dir(config, run_id)
    try:
        final = _execute(config, built, device, run_id, tmp, progress, log)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _execute(config, built, device, run_id, tmp: Path, progress, log) -> Path:
    times: Dict[str, float] = {}
    t0 = time.perf_counter()
    data = built.dataset(config.data_root, config.split, config.image_size)
    config.image_size = data.image_size
    times["data_s"] = time.perf_counter() - t0

    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    T = config.T if built.recipe.spiking else 1
    backbone = build_backbone(built, config, data, T, TRAIN_THRESHOLD)
    process = built.process(**config.process)
    params = sum(p.numel() for p in backbone.parameters())
    log(f"run {run_id}: {params / 1e6:.2f} M parameters, T={T}, {data.name}/{data.split} "
        f"({len(data)} images at {data.image_size}px) on {device}")

    t0 = time.perf_counter()
    ema, stats = train(backbone, process, data, config, device, generator, progress)
    times["train_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    extractor = built.extractor(data, device=device, progress=progress, inception_weights=config.inception_weights)
    times["extractor_s"] = time.perf_counter() - t0

    if built.neuron is not None and config.threshold != TRAIN_THRESHOLD:
        # threshold guidance: the trained weights, run with another v_th at inference only
        guided = build_backbone(built, config, data, T, config.threshold).to(device)
        guided.load_state_dict(ema.state_dict())
        ema = guided.eval()

    metrics = {name: entry() for name, entry in built.metrics.items()}
    t0 = time.perf_counter()
    samples, observed = sample(ema, process, config, data, device, metrics.values(), progress)
    times["sample_s"] = time.perf_counter() - t0
    save_image(samples[:64].float() / 255.0, tmp / "samples.png", nrow=8, padding=1)

    protocol = make_protocol(dataset=data.name, extractor=extractor.name, extractor_version=extractor.version,
                             num_samples=config.num_samples, reference_split=data.split,
                             reference_images=min(config.reference_images, len(data)),
                             image_size=data.image_size, sampler=config.sampler, sample_steps=config.sample_steps)
    ctx = ScoringContext(samples=samples, data=data, protocol=protocol, extractor=extractor,
                         sampling={"observed_images": observed, "steps": config.sample_steps}, progress=progress)
    t0 = time.perf_counter()
    results: Dict[str, Any] = {}
    for metric in metrics.values():
        results.update(metric.compute(ctx))
    times["score_s"] = time.perf_counter() - t0

    energy = results.pop("energy_detail", None)
    firing_rates = energy.pop("firing_rates", {}) if energy else {}
    torch.save(ema.state_dict(), tmp / "model.pt")
    record = {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "model": config.model, "neuron": config.neuron if built.recipe.spiking else None,
        "dataset": data.name, "T": T, "threshold": config.threshold, "train_threshold": TRAIN_THRESHOLD,
        "parameters": params,
        "config": config.to_dict(),
        "protocol": protocol, "protocol_key": protocol_key(protocol),
        "metrics": results,
        "energy": energy,
        "firing_rates": firing_rates,
        "training": {"steps": stats.steps, "final_loss": stats.final_loss,
                     "images_per_second": stats.images_per_second},
        "wall_times": times,
        "data_source": data.source, "data_hash": data.content_hash,
        "git_commit": git_commit(), "packages": package_versions(), "hardware": hardware(device),
        "files": {"samples": "samples.png", "weights": "model.pt"},
    }
    write_json_atomic(tmp / RECORD_FILE, record)
    final = tmp.parent / run_id
    os.replace(tmp, final)
    return final


def build_backbone(built: Built, config: RunConfig, data, T: int, v_th: float):
    neuron = neuron_maker(built.neuron.factory, T, v_th, config.neuron_params) if built.neuron is not None else None
    try:
        return built.backbone(neuron, T=T, img_ch=data.channels, img_size=data.image_size, **config.backbone)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"cannot build backbone '{built.recipe.backbone}': {exc}") from None


@torch.no_grad()
def sample(model, process, config: RunConfig, data, device, metrics, progress):
    """Generate ``config.num_samples`` uint8 images; the metrics observe the first batch."""
    model.eval()
    generator = torch.Generator().manual_seed(config.seed + 1)
    shape = (data.channels, data.image_size, data.image_size)
    batches = [min(config.sample_batch_size, config.num_samples - s)
               for s in range(0, config.num_samples, config.sample_batch_size)]
    task = progress.add_task("sample", total=len(batches) * config.sample_steps) if progress else None
    on_step = (lambda n: progress.update(task, advance=n)) if task is not None else None
    out = []
    for i, n in enumerate(batches):
        with contextlib.ExitStack() as stack:
            if i == 0:
                for metric in metrics:
                    stack.enter_context(metric.observe(model))
            x = process.sample(model, n, shape, sampler=config.sampler, steps=config.sample_steps,
                               generator=generator, device=device, on_step=on_step)
        out.append(to_uint8(x).cpu())
    return torch.cat(out), batches[0]
