"""Generating a run's images: seeded per batch, shared out over torchrun
ranks, watched by the metrics that observe the sampling pass.

This module sits below the runner: model pipelines (a conversion model
scoring its ANN beside its SNN, say) call :func:`sample` and
:func:`save_grid` themselves, and never the runner.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Sequence, Tuple

import torch

from sdmbench.hardware import distributed, precision
from sdmbench.running.config import RunConfig
from sdmbench.plugin_api.data import to_uint8


def save_grid(samples: torch.Tensor, path: Path) -> None:
    """The first 64 uint8 samples as an 8x8 PNG grid."""
    from torchvision.utils import save_image  # here: torchvision takes seconds to import

    save_image(samples[:64].float() / 255.0, path, nrow=8, padding=1)


def save_samples(samples: torch.Tensor, path: Path) -> None:
    """Every sample as ``path`` (``.npz``, key ``arr_0``, uint8 ``[N, H, W, C]``): the layout that
    diffusion evaluators (guided-diffusion's, clean-fid's folders of arrays) read. Written to a
    temporary file and renamed."""
    import numpy as np

    tmp = path.with_name(f".{path.stem}.partial.npz")
    np.savez(tmp, samples.permute(0, 2, 3, 1).contiguous().numpy())
    tmp.replace(path)


def sample_seed(seed: int, batch: int) -> int:
    """The seed of sampling batch ``batch`` (per batch, so that ranks can share the batches out)."""
    return (seed + 1) * 1_000_003 + batch


def batch_sizes(config: RunConfig) -> list:
    """``num_samples`` cut into batches of ``sample_batch_size`` (the last may be smaller)."""
    return [min(config.sample_batch_size, config.num_samples - s)
            for s in range(0, config.num_samples, config.sample_batch_size)]


@torch.no_grad()
def sample(pipeline, config: RunConfig, metrics: Sequence, progress=None,
           label: str = "sample", first_batch: int = 0) -> Tuple[torch.Tensor, list]:
    """``config.num_samples`` uint8 images ``[N, C, H, W]`` and the images in
    each batch the metrics observed (every batch, on every rank; rank 0
    absorbs the other ranks' observations after its own); from ``first_batch``
    on, the later batches alone (``sdmbench score`` extending a run's samples:
    batch ``i`` is the same images whichever call makes it).

    Batch ``i`` has its own generator (:func:`sample_seed`); under torchrun rank
    ``r`` generates the batches ``i = r mod world size`` and rank 0 gets every
    batch, in order, so the samples are those of one process. Each metric's
    observations are summed over ranks (``Metric.merge``)."""
    world = distributed.world()
    batches = batch_sizes(config)
    mine = [i for i in range(first_batch, len(batches)) if i % world.size == world.rank]
    pipeline.prepare_sampling()
    task = progress.add_task(label, total=len(mine) * config.sample_steps) if progress else None
    on_step = (lambda n: progress.update(task, advance=n)) if task is not None else None
    out = {}
    for i in mine:
        with contextlib.ExitStack() as stack:
            for metric in metrics:
                stack.enter_context(metric.observe(pipeline.generator_module()))
            generator = torch.Generator().manual_seed(sample_seed(config.seed, i))
            with precision.autocast(config.precision, pipeline.ctx.device):
                images = pipeline.generate(batches[i], generator, on_step)
            out[i] = to_uint8(images).cpu()
    observed = [batches[i] for i in mine]
    if world.enabled:
        out, observed = _gather(out, observed, metrics, world)
    return torch.cat([out[i] for i in sorted(out)]), observed


def observed_sampling(observed: Sequence[int], steps: int, plugins=None) -> dict:
    """What a metric's ``ctx.sampling`` holds: the images observed (in total and per batch, in the
    order the observing metrics saw them), the denoising steps, and the plugins (energy models)."""
    return {"observed_images": sum(observed), "batch_images": list(observed), "steps": steps,
            "plugins": plugins}


def _gather(out: dict, observed: list, metrics: Sequence, world) -> Tuple[dict, list]:
    """Every rank's batches and observations on rank 0."""
    shares = distributed.gather((out, observed, [getattr(m, "observations", lambda: None)() for m in metrics]))
    out = {i: x for share in shares for i, x in share[0].items()}
    observed = [n for share in shares for n in share[1]]
    if world.main:  # rank 0 scores; a rank with no batch (fewer batches than ranks) observed nothing
        for k, metric in enumerate(metrics):
            if hasattr(metric, "merge"):
                metric.merge([share[2][k] for share in shares[1:]])
    return out, observed
