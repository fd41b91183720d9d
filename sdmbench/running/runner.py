"""One run, one direction: config -> pipeline stages -> sample -> score -> record.

:func:`execute` takes a config built by :func:`sdmbench.running.configure.configure`
(every name and setting already checked) through four steps, each its own
function: :func:`train_stages`, :func:`generate`, :func:`score` and
:func:`write_record`. The run writes into ``<results>/<run id>.incomplete/``,
renamed ``<results>/<run id>/`` only once the record is complete, so a
failed run leaves no partial record. Training saves mid-stage checkpoints
there (``checkpoint-<stage>.pt``, see :mod:`sdmbench.running.checkpoint`) and each
finished stage as ``stage-<name>.pt``. A run that fails or is killed after
saving any of them keeps its folder, and ``sdmbench run --resume
<results>/<run id>.incomplete`` continues exactly where it stopped; a
failure before the first save removes the folder.
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple

import torch

from sdmbench.hardware import allocator, distributed, precision

from sdmbench.plugin_api import loader as plugin_loader
from sdmbench.running.checkpoint import load_state, save_state
from sdmbench.running.config import RunConfig
from sdmbench.errors import UsageError, unknown_name
from sdmbench.running.pipeline import DiffusionPipeline, RunContext
from sdmbench.running.records import (PID_FILE, make_record, make_run_id, prepare_results_dir,  # noqa: F401 (old paths)
                              read_config, read_run_file, write_config, write_record as save_record)
from sdmbench.running.sampling import observed_sampling, sample, save_grid, save_samples
from sdmbench.scoring.evaluate import evaluate, protocol_for
from sdmbench.scoring.protocol import is_local_version
from sdmbench.running.interrupt import Interrupted
from sdmbench.hardware.sizes import check_sizes
from sdmbench.hardware.environment import check_torchvision
from sdmbench.scoring.metric import Scores


@dataclass
class RunResult:
    """A finished run: its record and the folder holding ``record.json``."""

    record: Optional[Dict[str, Any]]  # None on torchrun ranks other than 0
    folder: Path


@dataclass
class Run:
    """The state one run carries from step to step."""

    config: RunConfig
    plugins: Any
    recipe: Any
    device: torch.device
    run_id: str
    folder: Path  # the .incomplete folder
    progress: Any = None
    log: Callable[..., None] = print
    resume: Optional[Path] = None
    rerun: Optional[str] = None
    times: Dict[str, float] = field(default_factory=dict)  # wall seconds per step
    cpu_times: Dict[str, float] = field(default_factory=dict)  # this process's CPU seconds, all threads
    extractor: Any = None  # built before training, so a missing weights file fails first

    def timed(self, name: str, since: Tuple[float, float]) -> None:
        """Record the wall and CPU seconds since ``since = clock()``. CPU seconds sum every thread of
        this process and, unlike wall time x threads, barely grow when other processes share the cores."""
        wall, cpu = clock()
        self.times[name], self.cpu_times[name] = wall - since[0], cpu - since[1]


def clock() -> Tuple[float, float]:
    """(wall, process CPU) seconds now, for ``Run.timed``."""
    return time.perf_counter(), time.process_time()


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError("--device cuda asked for, but torch sees no CUDA device; use --device cpu")
    return torch.device(name)


def saved_config(run_dir: Path, flag: str = "--resume") -> Dict[str, Any]:
    """The config a run folder was made with (kept here for one release: use :func:`sdmbench.running.records.read_config`)."""
    return read_config(run_dir, flag)


def check_saved_state(run_dir: Path, flag: str = "--resume") -> None:
    """Every weights file of a run folder reads as sdmbench weights (checked before a new run starts)."""
    for path in sorted(run_dir.glob("stage-*.pt")) + sorted(run_dir.glob("checkpoint-*.pt")):
        load_state(path, "cpu", flag)


def execute(config: RunConfig, progress=None, plugins=None, log=print, resume: Optional[Path] = None,
            rerun: Optional[str] = None) -> RunResult:
    """Run ``config`` end to end; return its record and folder.

    ``resume``: a run folder whose saved stages are reused (``rerun`` names
    the first stage to train again)."""
    plugins = plugins or plugin_loader.get()
    recipe = plugins.model.get(config.model)()
    check_torchvision()
    if config.checkpoint_every == 0 and config.train_steps:
        log("note: checkpoint_every=0: no periodic checkpoints, so a killed run trains its stage again from the "
            "start (Ctrl-C and SIGTERM still save one)")
    if config.train_steps == 0 and resume is None and not config.init_from:
        raise UsageError("--train-steps 0 trains nothing: the run would score an untrained model as if it were "
                         "one; give it steps, or --init-from RUN_DIR to evaluate trained weights")
    device = distributed.setup(pick_device(config.device))
    world = distributed.world()
    if world.enabled and not getattr(recipe.pipeline or DiffusionPipeline, "distributed", False):
        raise UsageError(f"model '{config.model}' does not train under torchrun yet; run it in one process")
    allocator.tune()
    if config.threads:
        torch.set_num_threads(config.threads)
    run_id = distributed.broadcast(make_run_id(config))
    tmp = prepare_results_dir(config, run_id) if world.main else Path(config.results_dir) / f"{run_id}.incomplete"
    if world.main:
        write_config(tmp, config.to_dict())
    distributed.barrier()
    run = Run(config, plugins, recipe, device, run_id, tmp, progress, log, resume, rerun)
    try:
        result = _steps(run)
    except Interrupted:
        raise  # its checkpoint is saved; the folder stays as it is
    except BaseException:
        if world.main:
            _keep_or_remove(tmp, log)
        raise
    if world.main and resume is not None and resume.name.endswith(".incomplete") \
            and resume.resolve() != result.folder.resolve():
        shutil.rmtree(resume, ignore_errors=True)  # everything it held now lives in the finished run
    distributed.barrier()
    return result


def _keep_or_remove(tmp: Path, log) -> None:
    """A failed run keeps its folder when it holds training state to resume from."""
    if any(tmp.glob("stage-*.pt")) or any(tmp.glob("checkpoint-*.pt")):
        log(f"kept the saved training state in {tmp}; continue with --resume {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def _steps(run: Run) -> RunResult:
    pipeline = build_pipeline(run)
    metrics = {name: run.plugins.metric.get(name)() for name in run.config.metrics}
    if distributed.world().main and any(getattr(m, "needs_features", True) for m in metrics.values()):
        run.extractor = build_extractor(run, pipeline.ctx.data)  # rank 0 scores: a missing weights file fails now
    training = train_stages(run, pipeline)
    samples, observed = generate(run, pipeline, metrics)
    if not distributed.world().main:  # rank 0 scores the gathered samples and writes the record
        return RunResult(None, run.folder.parent / run.run_id)
    protocol, scores = score(run, pipeline, metrics, samples, observed)
    return write_record(run, pipeline, protocol, scores, training)


def build_pipeline(run: Run):
    """Load the data (rank 0 first: it stages files into the cache) and build the model's pipeline."""
    c, t0, world = run.config, clock(), distributed.world()
    if not world.main:
        distributed.barrier()
    data = run.plugins.dataset.get(c.dataset)(c.data_root, c.split, c.image_size)
    if world.main:
        distributed.barrier()
    run.timed("data_s", t0)
    T = c.time_steps
    check_sizes(c, data, run.device, T)  # before the model is built or named
    torch.manual_seed(c.seed)
    neuron = run.plugins.neuron.get(c.neuron) if c.spiking else None
    ctx = RunContext(config=c, plugins=run.plugins, recipe=run.recipe, neuron=neuron,
                     process=run.plugins.process.get(run.recipe.process), data=data, device=run.device,
                     generator=torch.Generator().manual_seed(c.seed), T=T,
                     progress=run.progress, log=run.log, run_dir=run.folder,
                     resume_dir=run.resume if run.rerun is None else None)
    pipeline = (run.recipe.pipeline or DiffusionPipeline)(ctx)
    run.log(f"run {run.run_id}: {pipeline.parameters() / 1e6:.2f} M parameters, T={ctx.T}, {data.name}/"
            f"{data.split} ({len(data)} images at {data.image_size}px) on {run.device}, "
            f"{torch.get_num_threads()} threads")
    _warn_if_loaded(run)
    _warn_if_bf16_emulated(run)
    return pipeline


def _warn_if_loaded(run: Run) -> None:
    """Say so when other work already keeps the CPUs busy: the run will be slower than README's times."""
    try:
        load, cores = os.getloadavg()[0], os.cpu_count() or 1
    except OSError:  # no load average on this platform
        return
    if run.device.type == "cpu" and load > 0.75 * cores:
        run.log(f"note: this machine is busy (load {load:.1f} on {cores} cores): expect slower runs than "
                "the times README gives; --threads N sets torch's threads")


def _warn_if_bf16_emulated(run: Run) -> None:
    """Say so, before training, when this CPU runs ``precision=bf16`` slower than fp32 (no native
    bfloat16): the quick presets ask for bf16, and there a run takes many times README's times."""
    if run.config.precision != "bf16" or run.device.type != "cpu":
        return
    slowdown = precision.bf16_emulated()
    if slowdown:
        run.log(f"note: precision=bf16 is emulated on this CPU (no AVX512-BF16 or AMX): a convolution took "
                f"{slowdown:.0f}x longer than in fp32, so this run will be many times slower than README's "
                "times; add --set precision=fp32 (a different setting: the run becomes a trial of its entry)")


def build_extractor(run: Run, data):
    """The protocol's feature extractor, loaded (pinned weights, else local ones; never trained here).
    Weights made on this machine make a local protocol: the run says so in one line."""
    t0, c = clock(), run.config
    extractor = run.plugins.extractor.get(c.extractor)(data, device=run.device, progress=run.progress,
                                                       **c.extractor_options)
    run.timed("extractor_s", t0)
    if is_local_version(getattr(extractor, "version", None)):
        run.log(f"note: {c.extractor}@{extractor.version} was trained on this machine: a local protocol, never "
                "ranked with the shipped extractors' runs")
    return extractor


def _stage_sources(run: Run, stages) -> Dict[str, Path]:
    """The saved stages a resumed run reuses (all before ``rerun``)."""
    if run.resume is None:
        return {}
    if run.rerun is not None and run.rerun not in stages:
        raise unknown_name("stage", run.rerun, stages)
    keep = stages[:stages.index(run.rerun)] if run.rerun else stages
    return {s: run.resume / f"stage-{s}.pt" for s in keep if (run.resume / f"stage-{s}.pt").is_file()}


def train_stages(run: Run, pipeline) -> Dict[str, Dict[str, Any]]:
    """Train (or load, when resumed) every stage; save each as ``stage-<name>.pt``."""
    main, training = distributed.world().main, {}
    sources = _stage_sources(run, list(pipeline.stages))
    for stage in pipeline.stages:
        t0 = clock()
        if stage in sources:
            pipeline.load_stage(stage, load_state(sources[stage], run.device, "--resume"))
            training[stage] = {"resumed_from": str(sources[stage])}
            if main:
                shutil.copyfile(sources[stage], run.folder / f"stage-{stage}.pt")
        else:
            training[stage] = pipeline.train_stage(stage)
            if main:
                save_state(pipeline.state_dict(stage), run.folder / f"stage-{stage}.pt")
                (run.folder / f"checkpoint-{stage}.pt").unlink(missing_ok=True)
        run.timed(f"train_{stage}_s", t0)
    return training


def generate(run: Run, pipeline, metrics: Dict[str, Any]):
    """The run's samples, with the metrics observing the sampling pass; rank 0 keeps them all
    (``samples.npz``) and a grid of the first 64 (``samples.png``)."""
    t0 = clock()
    samples, observed = sample(pipeline, run.config, list(metrics.values()), run.progress)
    run.timed("sample_s", t0)
    if distributed.world().main:
        save_samples(samples, run.folder / "samples.npz")
        save_grid(samples, run.folder / "samples.png")
    return samples, observed


def score(run: Run, pipeline, metrics: Dict[str, Any], samples: torch.Tensor, observed: list):
    """The protocol and every chosen metric's scores (plus the pipeline's own, under its model's name)."""
    c, data = run.config, pipeline.ctx.data
    t0 = clock()
    protocol = protocol_for(len(samples), data, c, run.extractor, metrics,
                            {k: getattr(pipeline.process, k) for k in getattr(pipeline, "sampler_options", ())})
    scoring, scores = evaluate(protocol, samples, data, run.extractor, metrics,
                               sampling=observed_sampling(observed, c.sample_steps, run.plugins),
                               progress=run.progress)
    extra = getattr(pipeline, "extra_metrics", None)
    if extra is not None:
        scores[c.model] = Scores.of(extra(scoring))
    run.timed("score_s", t0)
    return protocol, scores


def write_record(run: Run, pipeline, protocol: Dict[str, Any], scores: Dict[str, Scores],
                 training: Dict[str, Dict[str, Any]]) -> RunResult:
    """Write ``record.json`` and move the folder to its final name."""
    record = save_record(run.folder, make_record(run, pipeline, protocol, scores, training))
    (run.folder / PID_FILE).unlink(missing_ok=True)
    final = run.folder.parent / run.run_id
    os.replace(run.folder, final)
    return RunResult(record, final)
