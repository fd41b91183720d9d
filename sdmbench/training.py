"""Training loop: Adam, gradient clipping, EMA of the weights.

The diffusion process computes the loss; the trainer only draws batches,
steps the optimiser and keeps the exponential moving average
``ema = d * ema + (1 - d) * w`` with the warm-up ``d = min(decay, (1+n)/(10+n))``
(buffers such as BatchNorm statistics are copied).
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass

import torch
from torch import nn

from sdmbench.config import RunConfig
from sdmbench.data import ImageData, to_unit
from sdmbench.errors import UsageError


@dataclass
class TrainStats:
    steps: int
    final_loss: float
    seconds: float
    images_per_second: float


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p, 1.0 - decay)
    for e, b in zip(ema.buffers(), model.buffers()):
        e.copy_(b)


def train(backbone: nn.Module, process, data: ImageData, config: RunConfig, device: torch.device,
          generator: torch.Generator, progress=None) -> tuple[nn.Module, TrainStats]:
    """Train ``backbone`` in place for ``config.train_steps``; return its EMA copy."""
    backbone.to(device).train()
    ema = copy.deepcopy(backbone).eval()
    opt = torch.optim.Adam(backbone.parameters(), lr=config.lr)
    task = progress.add_task("train", total=config.train_steps) if progress else None
    start, loss_value, smooth = time.perf_counter(), float("nan"), None
    for step in range(config.train_steps):
        idx = torch.randint(0, len(data), (config.batch_size,), generator=generator)
        x0 = to_unit(data.get(idx)).to(device)
        loss = process.loss(backbone, x0, generator=generator if device.type == "cpu" else None)
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            raise UsageError(f"training diverged: the loss is {loss_value} at step {step}; "
                             f"lower the learning rate (now {config.lr})")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip:
            nn.utils.clip_grad_norm_(backbone.parameters(), config.grad_clip)
        opt.step()
        ema_update(ema, backbone, min(config.ema_decay, (1 + step) / (10 + step)))
        smooth = loss_value if smooth is None else 0.95 * smooth + 0.05 * loss_value
        if task is not None:
            rate = (step + 1) * config.batch_size / (time.perf_counter() - start)
            progress.update(task, advance=1, description=f"train  loss {smooth:.4f}  {rate:.0f} img/s")
    seconds = time.perf_counter() - start
    return ema, TrainStats(config.train_steps, loss_value, seconds,
                           config.train_steps * config.batch_size / seconds if seconds else 0.0)
