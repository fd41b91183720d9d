"""Numeric precision of a run's forward passes (the ``precision`` setting).

- ``fp32``: everything in float32 (the default).
- ``bf16``: mixed precision with :func:`torch.autocast`: convolutions and
  matrix products run in bfloat16, weights, optimiser state and the loss stay
  float32 (the usual mixed-precision recipe). It applies wherever the harness
  runs a network: every training stage's loss, BatchNorm recalibration and
  sampling, on CPU (oneDNN's bf16 kernels; on this project's 2-core AVX-512
  machine a training step of the quick-preset U-Nets is 1.35-1.38x faster for
  the SNN and 1.5x for the ANN, ``benchmarks/step_time.py --bf16``) and on CUDA.
  A CPU without native bfloat16 instructions (no AVX512-BF16 or AMX) emulates
  them: on a 2-core AVX2 EPYC a quick-preset training step took 14x longer
  in bf16 than in fp32. :func:`cpu_bf16_slowdown` measures this before a run
  trains, and the runner says so.

Spiking neurons always integrate in float32, whatever the precision:
:func:`neuron_inputs_fp32` is the forward pre-hook :func:`sdmbench.plugin_api.neuron.neuron_maker`
puts on every neuron it makes, so that a membrane near threshold is not
rounded to bfloat16's 8 significant bits. Spikes are 0/1 and exact in bf16,
so the convolution that reads them loses nothing.
"""
from __future__ import annotations

import contextlib
import time

import torch

PRECISIONS = ("fp32", "bf16")


def autocast(precision: str, device: torch.device | str):
    """The context forward passes of a run execute in (a no-op for ``fp32``)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "bf16":
        return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
    raise ValueError(f"unknown precision '{precision}'; known: {', '.join(PRECISIONS)}")


def neuron_inputs_fp32(module, args):
    """Forward pre-hook: lower-precision floating inputs become float32."""
    return tuple(a.float() if isinstance(a, torch.Tensor) and a.is_floating_point()
                 and a.dtype != torch.float32 and a.dtype != torch.float64 else a for a in args)


#: bf16 / fp32 time of a small convolution above which a CPU run is told to use fp32
SLOW_BF16 = 1.5


def cpu_has_native_bf16() -> bool:
    """Whether this CPU has the bfloat16 instructions oneDNN's bf16 kernels use (AVX512-BF16 or AMX), as
    torch's cpuinfo reports them (False where this torch cannot tell: then :func:`cpu_bf16_slowdown` decides)."""
    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(probe() for probe in probes if probe is not None)


def bf16_emulated() -> float:
    """How many times longer bf16 takes than fp32 on this CPU where it is emulated (:func:`cpu_bf16_slowdown`
    over :data:`SLOW_BF16`), else 0: a CPU with native bfloat16 is not timed at all."""
    if cpu_has_native_bf16():
        return 0.0
    slowdown = cpu_bf16_slowdown()
    return slowdown if slowdown > SLOW_BF16 else 0.0


def cpu_bf16_slowdown(repeats: int = 3) -> float:
    """How many times longer a small convolution (4 x 32 x 16 x 16, 3x3, one forward) takes under
    bf16 autocast than in float32 on this CPU: median of ``repeats`` after a warm-up, on one thread (torch's
    thread count is restored after), about 0.1 s in all. Below 1 where the CPU has native bfloat16
    (oneDNN's AVX512-BF16/AMX kernels); measured 30-48 on an idle AVX2 EPYC, where the bf16 kernels are
    emulated, and 27-95 there beside busy processes.
    One thread, because beside another busy process a convolution this small on two threads waits on its
    threads' spinning far longer than it computes: there fp32 took 30 ms instead of 2, and the ratio came
    out 0.75 on that emulating CPU."""
    conv, x = torch.nn.Conv2d(32, 32, 3, padding=1), torch.randn(4, 32, 16, 16)

    def median_time(precision: str) -> float:
        times = []
        with torch.no_grad(), autocast(precision, "cpu"):
            for _ in range(repeats + 1):
                start = time.perf_counter()
                conv(x)
                times.append(time.perf_counter() - start)
        return sorted(times[1:])[repeats // 2]

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return median_time("bf16") / max(median_time("fp32"), 1e-9)
    finally:
        torch.set_num_threads(threads)
