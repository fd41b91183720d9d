"""Runs under ``torchrun``: process group, rank roles, and the collectives a run needs.

``torchrun --nproc_per_node N -m sdmbench run ...`` starts N processes with
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and a rendezvous in the environment;
:func:`setup` joins them in a process group (``nccl`` on CUDA, ``gloo`` on
CPU). Every rank trains (DistributedDataParallel) and samples its share;
rank 0 alone creates the run folder, writes checkpoints, grids and the
record. With one process everything here is a no-op, so a plain
``sdmbench run`` is unchanged.

BatchNorm across ranks: torch's ``SyncBatchNorm`` runs on CUDA only, so on
CPU :class:`CPUSyncBatchNorm` all-reduces each channel's count, sum and sum of
squares (differentiably) and normalises with the global batch statistics.
Both are applied to the folded ``[T*B, C, H, W]`` tensors of spiking layers,
so the statistics cover T times the global batch, as in one process.
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import Any, List

import torch
import torch.distributed as dist
from torch import nn

from sdmbench.errors import UsageError

TIMEOUT = dt.timedelta(minutes=int(os.environ.get("SDMBENCH_DIST_TIMEOUT_MIN", "30")))


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str = ""

    @property
    def enabled(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


_WORLD = World()


def world() -> World:
    """This process's place in the run (rank 0 of 1 outside torchrun)."""
    return _WORLD


def setup(device: torch.device) -> torch.device:
    """Join the torchrun process group when ``WORLD_SIZE > 1``; return this rank's device."""
    global _WORLD
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return device
    if _WORLD.enabled:
        return _device_for(device, _WORLD)
    backend = "nccl" if device.type == "cuda" else "gloo"
    try:
        dist.init_process_group(backend=backend, timeout=TIMEOUT)
    except (RuntimeError, ValueError) as exc:
        raise UsageError(f"cannot join the torchrun process group ({exc}); start with torchrun --nproc_per_node N "
                         "-m sdmbench run ...") from None
    _WORLD = World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), backend)
    return _device_for(device, _WORLD)


def _device_for(device: torch.device, w: World) -> torch.device:
    if device.type != "cuda":
        return device
    torch.cuda.set_device(w.local_rank)
    return torch.device("cuda", w.local_rank)


def teardown() -> None:
    global _WORLD
    if _WORLD.enabled and dist.is_initialized():
        dist.destroy_process_group()
    _WORLD = World()


def broadcast(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not _WORLD.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(obj: Any) -> List[Any]:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not _WORLD.enabled:
        return [obj]
    out: List[Any] = [None] * _WORLD.size
    dist.all_gather_object(out, obj)
    return out


def mean(value: float) -> float:
    """The mean of ``value`` over ranks."""
    if not _WORLD.enabled:
        return value
    t = torch.tensor([float(value)], dtype=torch.float64)
    if _WORLD.backend == "nccl":
        t = t.cuda()
    dist.all_reduce(t)
    return float(t.item()) / _WORLD.size


def barrier() -> None:
    if _WORLD.enabled:
        dist.barrier()


def shard_rows(batch: int) -> slice:
    """This rank's rows of a global batch of ``batch`` (equal shares)."""
    if batch % _WORLD.size:
        raise UsageError(f"the global batch size {batch} does not split over {_WORLD.size} processes; "
                         f"use a multiple of {_WORLD.size}")
    share = batch // _WORLD.size
    return slice(_WORLD.rank * share, (_WORLD.rank + 1) * share)


class _AllReduceSum(torch.autograd.Function):
    """``y = sum over ranks of x``; the gradient of each rank's x is the sum of every rank's dy."""

    @staticmethod
    def forward(ctx, x):
        y = x.clone()
        dist.all_reduce(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class CPUSyncBatchNorm(nn.BatchNorm2d):
    """BatchNorm2d with batch statistics over every rank (training mode); eval is BatchNorm2d."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and _WORLD.enabled):
            return super().forward(x)
        dims = [0, 2, 3]
        count = torch.full((1,), float(x.numel() // x.shape[1]), dtype=x.dtype)
        stats = _AllReduceSum.apply(torch.cat([x.sum(dims), x.square().sum(dims), count]))
        c = x.shape[1]
        n = stats[-1]
        mean = stats[:c] / n
        var = (stats[c:2 * c] / n - mean.square()).clamp(min=0)
        with torch.no_grad():
            m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked + 1)
            self.num_batches_tracked += 1
            self.running_mean.lerp_(mean.detach(), m)
            self.running_var.lerp_(var.detach() * n / (n - 1), m)
        shape = (1, c, 1, 1)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        return y * self.weight.view(shape) + self.bias.view(shape) if self.affine else y


def sync_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` with every BatchNorm2d synchronised over ranks (weights and statistics kept)."""
    if not _WORLD.enabled:
        return module
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.BatchNorm2d:
                synced = CPUSyncBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                          child.track_running_stats)
                synced.load_state_dict(child.state_dict())
                setattr(parent, name, synced)
    return module
