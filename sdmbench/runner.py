"""One run, one direction: config -> pipeline stages -> sample -> score -> record.

Every name and setting is checked before any work starts. The run writes into
``<results>/<run id>.incomplete/``, renamed ``<results>/<run id>/`` only once
the record is complete, so a failed run leaves no partial record. Training
saves mid-stage checkpoints there (``checkpoint-<stage>.pt``, see
:mod:`sdmbench.checkpoint`) and each finished stage as ``stage-<name>.pt``. A
run that fails or is killed after saving any of them keeps its folder, and
``sdmbench run --resume <results>/<run id>.incomplete`` continues exactly where
it stopped; a failure before the first save removes the folder.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import torch
from torchvision.utils import save_image

from sdmbench import allocator, distributed, precision, plugins as plugin_loader
from sdmbench.config import RunConfig
from sdmbench.data import to_uint8
from sdmbench.errors import UsageError
from sdmbench.pipeline import TRAIN_THRESHOLD, DiffusionPipeline, RunContext
from sdmbench.records import RECORD_FILE, SCHEMA_VERSION, git_commit, hardware, package_versions, write_json_atomic
from sdmbench.scoring.metric import ScoringContext
from sdmbench.scoring.protocol import make_protocol, protocol_key

DEFAULT_METRICS = ("fid", "energy")
CONFIG_FILE = "config.json"


@dataclass
class Built:
    """The resolved plugins of a run."""

    recipe: Any
    neuron: Any
    process: Any
    dataset: Any
    extractor: Any
    metrics: Dict[str, Any]


def resolve_plugins(config: RunConfig, plugins=None, metrics=DEFAULT_METRICS) -> Built:
    plugins = plugins or plugin_loader.get()
    recipe = plugins.model.get(config.model)()
    plugins.backbone.get(recipe.backbone)
    converts = "converter" in recipe.extras
    if not converts and (config.bits is not None or config.fine_tune or config.converter):
        raise UsageError(f"--bits, --fine-tune and converter are settings of conversion models (sdm-converted); "
                         f"model '{config.model}' has no quantised activations to convert")
    if converts:
        plugins.converter.get(config.converter or recipe.extras["converter"])
    return Built(recipe=recipe, neuron=plugins.neuron.get(config.neuron) if recipe.spiking else None,
                 process=plugins.process.get(recipe.process), dataset=plugins.dataset.get(config.dataset),
                 extractor=plugins.extractor.get(config.extractor),
                 metrics={name: plugins.metric.get(name) for name in metrics})


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
        tmp = root / f"{run_id}.incomplete"
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


def saved_config(run_dir: Path, flag: str = "--resume") -> Dict[str, Any]:
    """The config a run folder was made with (for ``--resume`` / ``--init-from``)."""
    path = run_dir / CONFIG_FILE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"{flag} {run_dir}: no {CONFIG_FILE} there; pass a run folder made by sdmbench run") \
            from None
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"{flag} {run_dir}: unreadable {CONFIG_FILE} ({exc})") from None


def execute(config: RunConfig, progress=None, plugins=None, log=print, resume: Optional[Path] = None,
            rerun: Optional[str] = None) -> Path:
    """Run ``config`` end to end; return the run folder holding ``record.json``.

    ``resume``: a run folder whose saved stages are reused (``rerun`` names
    the first stage to train again)."""
    plugins = plugins or plugin_loader.get()
    built = resolve_plugins(config, plugins)
    device = distributed.setup(pick_device(config.device))
    world = distributed.world()
    if world.enabled and not getattr(built.recipe.pipeline or DiffusionPipeline, "distributed", False):
        raise UsageError(f"model '{config.model}' does not train under torchrun yet; run it in one process")
    allocator.tune()
    if config.threads:
        torch.set_num_threads(config.threads)
    run_id = distributed.broadcast(make_run_id(config))
    tmp = prepare_results_dir(config, run_id) if world.main else Path(config.results_dir) / f"{run_id}.incomplete"
    if world.main:
        write_json_atomic(tmp / CONFIG_FILE, config.to_dict())
    distributed.barrier()
    try:
        final = _execute(config, built, plugins, device, run_id, tmp, progress, log, resume, rerun)
    except BaseException:
        if not world.main:
            raise
        if any(tmp.glob("stage-*.pt")) or any(tmp.glob("checkpoint-*.pt")):
            log(f"kept the saved training state in {tmp}; continue with --resume {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    if world.main and resume is not None and resume.name.endswith(".incomplete") \
            and resume.resolve() != final.resolve():
        shutil.rmtree(resume, ignore_errors=True)  # everything it held now lives in the finished run
    distributed.barrier()
    return final


def _stage_sources(pipeline, resume: Optional[Path], rerun: Optional[str]) -> Dict[str, Path]:
    if resume is None:
        return {}
    stages = list(pipeline.stages)
    if rerun is not None and rerun not in stages:
        from sdmbench.errors import unknown_name

        raise unknown_name("stage", rerun, stages)
    keep = stages[:stages.index(rerun)] if rerun else stages
    return {s: resume / f"stage-{s}.pt" for s in keep if (resume / f"stage-{s}.pt").is_file()}


def _execute(config, built, plugins, device, run_id, tmp: Path, progress, log, resume, rerun) -> Path:
    times: Dict[str, float] = {}
    t0 = time.perf_counter()
    world = distributed.world()
    if not world.main:
        distributed.barrier()  # rank 0 stages the dataset into the cache first
    data = built.dataset(config.data_root, config.split, config.image_size)
    if world.main:
        distributed.barrier()
    config.image_size = data.image_size
    times["data_s"] = time.perf_counter() - t0

    torch.manual_seed(config.seed)
    ctx = RunContext(config=config, plugins=plugins, recipe=built.recipe, neuron=built.neuron,
                     process=built.process, data=data, device=device,
                     generator=torch.Generator().manual_seed(config.seed),
                     T=config.T if built.recipe.spiking else 1, progress=progress, log=log, run_dir=tmp,
                     resume_dir=resume if rerun is None else None)
    pipeline = (built.recipe.pipeline or DiffusionPipeline)(ctx)
    sources = _stage_sources(pipeline, resume, rerun)
    log(f"run {run_id}: {pipeline.parameters() / 1e6:.2f} M parameters, T={ctx.T}, {data.name}/{data.split} "
        f"({len(data)} images at {data.image_size}px) on {device}")

    training: Dict[str, Any] = {}
    for stage in pipeline.stages:
        t0 = time.perf_counter()
        if stage in sources:
            pipeline.load_stage(stage, torch.load(sources[stage], map_location=device, weights_only=True))
            training[stage] = {"resumed_from": str(sources[stage])}
            if world.main:
                shutil.copyfile(sources[stage], tmp / f"stage-{stage}.pt")
        else:
            training[stage] = pipeline.train_stage(stage)
            if world.main:
                torch.save(pipeline.state_dict(stage), tmp / f"stage-{stage}.pt")
                (tmp / f"checkpoint-{stage}.pt").unlink(missing_ok=True)
        times[f"train_{stage}_s"] = time.perf_counter() - t0

    metrics = {name: entry() for name, entry in built.metrics.items()}
    t0 = time.perf_counter()
    samples, observed = sample(pipeline, config, metrics.values(), progress)
    times["sample_s"] = time.perf_counter() - t0
    if not world.main:  # rank 0 scores the gathered samples and writes the record
        return tmp.parent / run_id

    t0 = time.perf_counter()
    extractor = built.extractor(data, device=device, progress=progress, inception_weights=config.inception_weights)
    times["extractor_s"] = time.perf_counter() - t0
    save_grid(samples, tmp / "samples.png")

    options = {k: getattr(config, k) for k in getattr(pipeline, "sampler_options", ())}
    protocol = make_protocol(dataset=data.name, extractor=extractor.name, extractor_version=extractor.version,
                             num_samples=config.num_samples, reference_split=data.split,
                             reference_images=min(config.reference_images, len(data)),
                             image_size=data.image_size, sampler=config.sampler, sample_steps=config.sample_steps,
                             sampler_options=options)
    scoring = ScoringContext(samples=samples, data=data, protocol=protocol, extractor=extractor,
                             sampling={"observed_images": observed, "steps": config.sample_steps},
                             progress=progress)
    t0 = time.perf_counter()
    results: Dict[str, Any] = {}
    for metric in metrics.values():
        results.update(metric.compute(scoring))
    results.update(pipeline.extra_metrics(scoring))
    times["score_s"] = time.perf_counter() - t0

    energy = results.pop("energy_detail", None)
    firing_rates = energy.pop("firing_rates", {}) if energy else {}
    record = {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "model": config.model, "neuron": config.neuron if built.recipe.spiking else None,
        "dataset": data.name, "T": ctx.T, "bits": config.bits,
        "threshold": config.threshold, "train_threshold": TRAIN_THRESHOLD,
        "parameters": pipeline.parameters(),
        "config": config.to_dict(),
        "protocol": protocol, "protocol_key": protocol_key(protocol),
        "metrics": results,
        "energy": energy,
        "firing_rates": firing_rates,
        "training": _summary(training),
        "stages": training,
        "resumed_from": str(resume) if resume else None,
        "distributed": {"world_size": world.size, "backend": world.backend or None,
                        "global_batch_size": config.batch_size, "per_rank_batch_size": config.batch_size // world.size,
                        "lr": config.lr, "sync_batchnorm": bool(config.sync_bn and world.enabled)},
        "wall_times": times,
        "data_source": data.source, "data_hash": data.content_hash,
        "git_commit": git_commit(), "packages": package_versions(), "hardware": hardware(device),
        "files": {"samples": "samples.png", "config": CONFIG_FILE,
                  **{f"stage_{s}": f"stage-{s}.pt" for s in pipeline.stages}},
    }
    write_json_atomic(tmp / CONFIG_FILE, config.to_dict())
    write_json_atomic(tmp / RECORD_FILE, record)
    final = tmp.parent / run_id
    os.replace(tmp, final)
    return final


def _summary(training: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    """The last trained stage's figures (what the leaderboard shows)."""
    steps = sum(s.get("steps", 0) for s in training.values())
    last = [s for s in training.values() if "final_loss" in s]
    return {"steps": steps, "final_loss": last[-1]["final_loss"] if last else None}


def save_grid(samples: torch.Tensor, path: Path) -> None:
    """The first 64 uint8 samples as an 8x8 PNG grid."""
    save_image(samples[:64].float() / 255.0, path, nrow=8, padding=1)


def sample_seed(seed: int, batch: int) -> int:
    """The seed of sampling batch ``batch`` (per batch, so that ranks can share the batches out)."""
    return (seed + 1) * 1_000_003 + batch


@torch.no_grad()
def sample(pipeline, config: RunConfig, metrics: Sequence, progress, label: str = "sample"):
    """Generate ``config.num_samples`` uint8 images; the metrics observe the first batch (of each rank).

    Batch ``i`` has its own generator (:func:`sample_seed`); under torchrun rank
    ``r`` generates the batches ``i = r mod world size`` and rank 0 gets every
    batch, in order, so the samples are those of one process. Each metric's
    observations are summed over ranks (:meth:`~sdmbench.scoring.Metric.merge`)."""
    world = distributed.world()
    batches = [min(config.sample_batch_size, config.num_samples - s)
               for s in range(0, config.num_samples, config.sample_batch_size)]
    mine = [i for i in range(len(batches)) if i % world.size == world.rank]
    pipeline.prepare_sampling()
    task = progress.add_task(label, total=len(mine) * config.sample_steps) if progress else None
    on_step = (lambda n: progress.update(task, advance=n)) if task is not None else None
    out = {}
    for i in mine:
        with contextlib.ExitStack() as stack:
            if i == mine[0]:
                for metric in metrics:
                    stack.enter_context(metric.observe(pipeline.generator_module()))
            generator = torch.Generator().manual_seed(sample_seed(config.seed, i))
            with precision.autocast(config.precision, pipeline.ctx.device):
                images = pipeline.generate(batches[i], generator, on_step)
            out[i] = to_uint8(images).cpu()
    observed = batches[mine[0]] if mine else 0
    if world.enabled:
        shares = distributed.gather((out, observed, [m.observations() for m in metrics]))
        out = {i: x for share in shares for i, x in share[0].items()}
        observed = sum(share[1] for share in shares)
        if world.main:  # rank 0 scores; a rank with no batch (fewer batches than ranks) observed nothing
            for k, metric in enumerate(metrics):
                metric.merge([share[2][k] for share in shares[1:]])
    return torch.cat([out[i] for i in sorted(out)]), observed
