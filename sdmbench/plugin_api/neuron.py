"""The neuron contract, and the helpers backbones use to honour it.

A neuron factory is ``factory(T, v_th=1.0, **params) -> nn.Module``; the
module maps input currents ``x: Tensor[T, B, ...]`` to 0/1 spikes of the same
shape, differentiable through a surrogate gradient, with no state surviving
between calls. A neuron module may declare ``temporal_gain = True`` (the
``tsm`` neuron): backbones that support it then give every convolution T
learned per-step gains (SDM's temporal-wise spiking mechanism).
:func:`neuron_maker` turns a registry entry into the
zero-argument callable a backbone receives, and tags every module it makes so
that the energy counter can find the neurons of any backbone.
"""
from __future__ import annotations

from typing import Any, Callable, Dict

import torch
from torch import nn

from sdmbench.errors import UsageError
from sdmbench.hardware.precision import neuron_inputs_fp32

NEURON_TAG = "_sdmbench_neuron"


def neuron_maker(factory: Callable[..., nn.Module], T: int, v_th: float = 1.0,
                 params: Dict[str, Any] | None = None) -> Callable[[], nn.Module]:
    """A zero-argument callable making fresh, tagged neuron modules."""
    if int(T) < 1:
        raise UsageError(f"T must be a positive number of time steps, got {T}; use --T 4 (or 8)")
    if not v_th > 0:
        raise UsageError(f"the firing threshold must be positive, got {v_th}; use --threshold 1.0")
    params = dict(params or {})

    def make() -> nn.Module:
        module = factory(int(T), v_th=float(v_th), **params)
        if not isinstance(module, nn.Module):
            raise TypeError(f"neuron factory {factory!r} returned {type(module).__name__}, not nn.Module")
        setattr(module, NEURON_TAG, True)
        module.register_forward_pre_hook(neuron_inputs_fp32)  # membranes integrate in float32 under bf16
        return module

    return make


def is_neuron(module: nn.Module) -> bool:
    return bool(getattr(module, NEURON_TAG, False))


def fold(x: torch.Tensor) -> torch.Tensor:
    """``[T, B, ...] -> [T*B, ...]`` for stateless layers."""
    return x.flatten(0, 1)


def unfold(x: torch.Tensor, T: int) -> torch.Tensor:
    """``[T*B, ...] -> [T, B, ...]``."""
    return x.view(T, x.shape[0] // T, *x.shape[1:])


class Swish(nn.Module):
    """The ANN twin's stand-in for a neuron: ``x * sigmoid(x)`` pointwise."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.silu(x)
