"""Settings whose cost is knowable, checked against the machine before any work.

Two floors, each far below what a run really needs, so a refusal is never
wrong and a run that passes may still be too large for the machine:

- the kept samples: ``num_samples x C x S x S`` bytes (uint8, all held in
  memory for scoring), which must fit in half of the machine's memory;
- a training or sampling batch: ``batch x C x S x S x T x 4`` bytes (its
  float32 input over T steps) times 64 feature maps' worth of activations,
  which must fit in the device's memory (the GPU's for CUDA runs).
"""
from __future__ import annotations

import os

import torch

from sdmbench.errors import UsageError

ACTIVATION_FLOOR = 64  #: feature maps of the input's size a network holds at least, per image and step


def memory_bytes(device: torch.device) -> int:
    """The device's memory: the GPU's for CUDA, else the machine's RAM."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PB"


def check_sizes(config, data, device: torch.device, T: int) -> None:
    """Refuse, in one line, settings whose floor of memory exceeds what the machine has."""
    ram, mem = memory_bytes(torch.device("cpu")), memory_bytes(device)
    image = data.channels * data.image_size ** 2
    kept = config.num_samples * image
    if kept > ram / 2:
        raise UsageError(f"--num-samples {config.num_samples} keeps {_size(kept)} of images in memory, more than "
                         f"half of this machine's {_size(ram)}; ask for fewer samples")
    for flag, batch in (("--batch-size", config.batch_size), ("sample_batch_size", config.sample_batch_size)):
        floor = batch * image * 4 * max(T, 1) * ACTIVATION_FLOOR
        if floor > mem:
            raise UsageError(f"{flag} {batch} needs at least {_size(floor)} of activations at {data.image_size}px "
                             f"and T = {T}, more than the {_size(mem)} of {device.type}; use a smaller batch")
