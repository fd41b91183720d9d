"""Training loops: Adam(W), gradient clipping, NaN guard, progress, EMA.

:func:`optimise` is the loop every stage uses: it calls ``loss_fn(step)``,
steps the optimiser at the scheduled learning rate (:func:`learning_rate`)
and clips gradients. It stops with a one-line error naming the step when the
loss turns non-finite or its running mean (``s = 0.95 s + 0.05 loss``) climbs
past ``divergence_factor`` times its lowest value so far (a loss of squared
errors never legitimately grows 100-fold; losses that can be negative are
only checked for NaN); the last good checkpoint stays
for ``--resume``. A stage whose loss ended above where it began did not
learn: its stats say ``diverged`` and the record is not ranked. "Above" is
measured against the noise of a stochastic loss: with ``m`` and ``sd`` the
mean and standard deviation of the stage's first 20 losses (the running
mean's own span, ``1 / 0.05``), the final running mean ``s`` must exceed
``m + 2 sd sqrt(1/20 + 0.05/1.95)`` (the standard errors of ``m`` and of
``s``); a resumed stage starts from its saved running mean. A stage whose
minimised loss legitimately grows while it learns has these rules read another
quantity: its ``loss_fn`` returns a :class:`Watched` (the VQ-SVAE watches its
reconstruction error: its codebook and commitment terms grow as the encoder's
outputs spread, 13-28x over the quick preset's 1500 steps while the
reconstruction error fell 16-20x). :func:`train` is the diffusion stage on top of it, keeping
the exponential moving average ``ema = d * ema + (1 - d) * w`` with the
warm-up ``d = min(decay, (1+n)/(10+n))`` (buffers such as BatchNorm
statistics are copied during training).

BatchNorm statistics belong to the weights that produced them: the raw
model's running statistics do not fit the EMA weights, and in a spiking
network the mismatch compounds through every layer's firing (quick preset,
sdm/if: eval-mode loss at t = 300 was 0.25 with the copied statistics, 0.06
for the raw weights). So after training, :func:`recalibrate_batchnorm`
recomputes the EMA model's statistics on ``bn_batches`` fresh training
batches (``torch.optim.swa_utils.update_bn``, cumulative averages).
"""
from __future__ import annotations

import contextlib
import copy
import math
import signal
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Iterable, NamedTuple, Optional, Union

import torch
from torch import nn

from sdmbench.hardware import distributed, precision

from sdmbench.running import interrupt
from sdmbench.running.checkpoint import StepCheckpoint
from sdmbench.running.config import RunConfig
from sdmbench.plugin_api.data import ImageData
from sdmbench.errors import UsageError


class Watched(NamedTuple):
    """What a ``loss_fn`` returns when the divergence rules should not read the loss it minimises:
    ``loss`` is minimised; the running mean of ``value`` is what the rules watch, what a resumed stage
    compares with, and what the progress bar shows under ``name``."""

    loss: torch.Tensor
    value: torch.Tensor
    name: str


@dataclass
class TrainStats:
    steps: int
    final_loss: float
    seconds: float
    images_per_second: float
    diverged: bool = False
    watched: str = "loss"  #: the quantity the divergence rules read
    watched_final: Optional[float] = None  #: its final running mean, when it is not the loss

    def as_dict(self) -> dict:
        out = {"steps": self.steps, "final_loss": self.final_loss, "images_per_second": self.images_per_second,
               "diverged": self.diverged}
        if self.watched != "loss":
            out.update(watched=self.watched, watched_final=self.watched_final)
        return out


#: losses averaged for where a stage began: the running mean's span, 1 / (1 - 0.95)
START = 20
#: the standard error of the final running mean, per unit of the loss's standard deviation, squared
RUNNING_VARIANCE = 0.05 / 1.95


class Divergence:
    """Watches the running mean of the loss (see the module docstring)."""

    def __init__(self, factor: float, smooth: Optional[float]):
        self.factor, self.best = factor, smooth
        self.resumed_at = smooth  # a resumed stage's running mean when it was saved
        self.head: list = []  # its first START watched values

    def check(self, loss: float, value: float, smooth: float, step: int, description: str, config: RunConfig,
              checkpoint: Optional[StepCheckpoint], name: str = "loss") -> None:
        """``loss``: this step's minimised loss; ``value``: the watched quantity ``name`` (the loss itself
        unless the stage returned a :class:`Watched`), ``smooth`` its running mean."""
        if len(self.head) < START:
            self.head.append(value)
        self.best = smooth if self.best is None else min(self.best, smooth)
        not_finite = [f"the {n} is {v}" for n, v in (("loss", loss), (name, value)) if not math.isfinite(v)]
        exploded = bool(self.factor) and self.best > 0 and smooth > self.factor * self.best  # losses >= 0 only
        if not not_finite and not exploded:
            return
        kept = (f"; the last good checkpoint (step {checkpoint.saved_step}) is kept: lower the learning "
                "rate and --resume the run" if checkpoint and checkpoint.saved_step else "")
        what = not_finite[0] if not_finite else \
            f"the {name}'s running mean rose to {smooth:.4g}, {self.factor:g}x its lowest ({self.best:.4g})"
        raise UsageError(f"training diverged ({description}): {what} at step {step}; "
                         f"lower the learning rate (now {config.lr}){kept}")

    def diverged(self, smooth: Optional[float]) -> bool:
        """Whether the final running mean ``smooth`` lies above where the stage began by more than
        twice the noise of the comparison (the module docstring)."""
        if smooth is None:
            return False
        if self.resumed_at is not None:
            return smooth > self.resumed_at
        if not self.head:
            return False
        m = statistics.fmean(self.head)
        sd = statistics.stdev(self.head) if len(self.head) > 1 else 0.0
        return smooth > m + 2 * sd * math.sqrt(1 / len(self.head) + RUNNING_VARIANCE)


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p, 1.0 - decay)
    for e, b in zip(ema.buffers(), model.buffers()):
        e.copy_(b)


def learning_rate(config: RunConfig, step: int) -> float:
    """The learning rate of optimiser step ``step`` (0-based): ``config.lr``, or
    under ``lr_schedule = "cosine"`` ``lr * (1 + cos(pi * step / train_steps)) / 2``,
    from ``lr`` at the first step towards 0 at the last. A function of the step
    alone, so a resumed run continues the schedule exactly."""
    if config.lr_schedule == "cosine" and config.train_steps > 0:
        return config.lr * 0.5 * (1.0 + math.cos(math.pi * step / config.train_steps))
    return config.lr


def optimise(parameters: Iterable[nn.Parameter], loss_fn: Callable[[int], Union[torch.Tensor, Watched]],
             config: RunConfig,
             progress=None, description: str = "train", weight_decay: float = 0.0,
             after_step: Optional[Callable[[int], None]] = None,
             checkpoint: Optional[StepCheckpoint] = None) -> TrainStats:
    """``config.train_steps`` optimiser steps on ``loss_fn(step)``, resumed from
    and saved to ``checkpoint`` when one is given."""
    parameters = list(parameters)
    opt = torch.optim.AdamW(parameters, lr=config.lr, weight_decay=weight_decay) if weight_decay \
        else torch.optim.Adam(parameters, lr=config.lr)
    first, smooth = checkpoint.restore(opt) if checkpoint else (0, None)
    watch = Divergence(config.divergence_factor, smooth)
    task = progress.add_task(description, total=config.train_steps, completed=first) if progress else None
    curve = checkpoint.curve if checkpoint is not None and distributed.world().main else None
    if curve is not None:
        curve.start(first, config.batch_size)
    start, loss_value, name = time.perf_counter(), float("nan"), "loss"
    device = parameters[0].device if parameters else torch.device("cpu")
    guard = interrupt.deferred() if checkpoint is not None else contextlib.nullcontext()
    with guard:
        for step in range(first, config.train_steps):
            with precision.autocast(config.precision, device):
                loss = loss_fn(step)
            loss, watched, name = loss if isinstance(loss, Watched) else (loss, None, "loss")
            loss_value = distributed.mean(loss.item())  # the global batch's loss under torchrun
            value = loss_value if watched is None else distributed.mean(float(watched))
            smooth = value if smooth is None else 0.95 * smooth + 0.05 * value
            watch.check(loss_value, value, smooth, step, description, config, checkpoint, name)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            for group in opt.param_groups:
                group["lr"] = learning_rate(config, step)
            if config.grad_clip:
                nn.utils.clip_grad_norm_(parameters, config.grad_clip)
            opt.step()
            if curve is not None and curve.due(step + 1, config.train_steps):
                curve.row(step + 1, loss_value, name, value, smooth, learning_rate(config, step))
            if curve is not None:
                curve.preview_at(step + 1)
            if after_step is not None:
                after_step(step)
            if checkpoint is not None and checkpoint.due(step + 1, config.train_steps):
                checkpoint.save(step + 1, opt, smooth)
            if task is not None:
                rate = (step + 1 - first) * config.batch_size / (time.perf_counter() - start)
                progress.update(task, advance=1, description=f"{description}  {name} {smooth:.4f}  {rate:.0f} img/s")
            if checkpoint is not None:
                stop_at(step + 1, checkpoint, opt, smooth, curve)
    seconds = time.perf_counter() - start
    if curve is not None:
        curve.close()
    done = config.train_steps - first
    return TrainStats(config.train_steps, loss_value, seconds, done * config.batch_size / seconds if seconds else 0.0,
                      diverged=watch.diverged(smooth), watched=name,
                      watched_final=None if name == "loss" else smooth)


def stop_at(step: int, checkpoint: StepCheckpoint, opt, smooth: Optional[float], curve) -> None:
    """After optimiser step ``step``: when a signal asked to stop (any rank's, under torchrun), save a
    checkpoint at this step and raise :class:`~sdmbench.running.interrupt.Interrupted`."""
    signum = interrupt.requested()
    if distributed.world().enabled:  # every rank joins the all-reduce, whether or not it got a signal
        anyone = distributed.mean(1.0 if signum else 0.0) > 0
        signum = signum or (signal.SIGTERM if anyone else None)
    if signum is None:
        return
    if checkpoint.saved_step != step:
        checkpoint.save(step, opt, smooth)
    if curve is not None:
        curve.close()
    raise interrupt.Interrupted(step, checkpoint.path.parent, signum)


def train(backbone: nn.Module, process, data: ImageData, config: RunConfig, device: torch.device,
          generator: torch.Generator, progress=None, ema: Optional[nn.Module] = None,
          checkpoint=None, description: str = "train") -> tuple[nn.Module, TrainStats]:
    """Train ``backbone`` in place with ``process.loss``; return its EMA copy.

    Under torchrun the backbone is wrapped in DistributedDataParallel (its
    BatchNorms synchronised over ranks when ``config.sync_bn``) and
    ``config.batch_size`` is the global batch: every rank draws the same
    batch, noise and timesteps from the shared generator and computes the
    loss on its own rows (``process.loss(..., rows=)``), so the averaged
    gradient is the one-process gradient of the same batch.

    ``ema``: a starting EMA (fine-tuning), else a copy of ``backbone``;
    ``checkpoint(modules)`` -> :class:`StepCheckpoint` for mid-stage saves."""
    backbone.to(device).train()
    world = distributed.world()
    if world.enabled and config.sync_bn:
        distributed.sync_batchnorm(backbone, device)
    ema = (ema if ema is not None else copy.deepcopy(backbone)).to(device).eval()
    model, shard = backbone, {}
    if world.enabled:  # every rank draws the global batch and its noise, and computes on its rows
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(backbone, device_ids=[device.index] if device.type == "cuda" else None)
        shard = {"rows": distributed.shard_rows(config.batch_size)}

    def loss_fn(step: int) -> torch.Tensor:
        x0 = data.random_batch(config.batch_size, generator).to(device)
        return process.loss(model, x0, generator=generator if device.type == "cpu" else None, **shard)

    def after_step(step: int) -> None:
        ema_update(ema, backbone, min(config.ema_decay, (1 + step) / (10 + step)))

    stats = optimise(backbone.parameters(), loss_fn, config, progress, description,
                     weight_decay=config.weight_decay, after_step=after_step,
                     checkpoint=checkpoint({"model": backbone, "ema": ema}) if checkpoint else None)
    recalibrate_batchnorm(ema, process, data, config, device, generator)
    return ema, stats


def noisy_batch(process, data: ImageData, n: int, generator: torch.Generator,
                device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x_t, t)``: ``n`` training images noised to uniform timesteps, drawn
    from ``generator`` in the order images, timesteps, noise."""
    x0 = data.random_batch(n, generator).to(device)
    t = torch.randint(0, process.num_timesteps, (n,), generator=generator).to(device)
    noise = torch.randn(x0.shape, generator=generator).to(device)
    return process.q_sample(x0, t, noise), t


class _Denoiser(nn.Module):
    """``update_bn`` calls ``model(batch)``: unpack ``{"x": x_t, "t": t}``."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone

    def forward(self, batch: dict) -> torch.Tensor:
        return self.backbone(batch["x"], batch["t"])


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, process, data: ImageData, config: RunConfig, device: torch.device,
                          generator: torch.Generator) -> None:
    """Recompute ``model``'s BatchNorm running statistics on noisy training batches."""
    if config.bn_batches <= 0 or not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return
    batches = [dict(zip(("x", "t"), noisy_batch(process, data, config.batch_size, generator, device)))
               for _ in range(config.bn_batches)]
    with precision.autocast(config.precision, device):
        torch.optim.swa_utils.update_bn(batches, _Denoiser(model))
    model.eval()
