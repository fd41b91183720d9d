"""Keep large tensors' memory in the process on Linux (glibc).

glibc serves allocations above ``M_MMAP_THRESHOLD`` (a few MB at most) with
fresh ``mmap`` pages and returns them on free, so every spiking layer's
``[T*B, C, H, W]`` activation costs page faults and zeroing at every step.
Raising the mmap and trim thresholds lets freed blocks be reused instead. On
2 CPU cores this made a T = 4 spiking U-Net's training step 1.9x faster at
batch 64 and 1.2x at batch 32 (``benchmarks/step_time.py``). ``SDMBENCH_NO_MALLOPT=1`` leaves the
allocator alone.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3

_done = False


def tune() -> bool:
    """Apply the glibc settings once; True when they took effect."""
    global _done
    if _done or not sys.platform.startswith("linux") or os.environ.get("SDMBENCH_NO_MALLOPT"):
        return _done
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = all(libc.mallopt(param, value) == 1 for param, value in (
            (M_MMAP_THRESHOLD, 1 << 30), (M_TRIM_THRESHOLD, 1 << 34 if sys.maxsize > 2 ** 32 else 1 << 30),
            (M_TOP_PAD, 1 << 28)))
    except (OSError, AttributeError):
        return False
    _done = ok
    return ok
