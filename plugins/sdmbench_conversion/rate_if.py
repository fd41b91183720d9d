"""The IF neuron a quantised clipped ReLU converts to (QCFS conversion).

Step function, threshold ``theta`` (the ReLU's clip ``alpha``), reset by
subtraction::

    v[t] = v[t-1] + x[t]
    s[t] = H(v[t] - theta)
    v[t] = v[t] - theta * s[t]                       v[0] = theta / 2

The module emits ``theta * s[t]``, so its rate ``mean_t theta s[t]`` is in
the units of the ReLU it replaces. For a constant input ``x`` over
``T = L = 2^b - 1`` steps the spike count is
``clip(floor(x L / theta + 1/2), 0, L)``: exactly the b-bit quantised clipped
ReLU. The spike is a Heaviside step with the arctan surrogate gradient, so
the converted network can be fine-tuned; ``theta`` is a parameter.
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import nn

from sdmbench.plugin_api.neuron import NEURON_TAG
from sdmbench_conversion.layers import MIN_ALPHA
from sdmbench_neurons.surrogate import spike


def if_subtract_step(v: torch.Tensor, x: torch.Tensor, theta: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """One step: ``(v, x) -> (v', s)`` with reset by subtraction (see the module docstring)."""
    v = v + x
    s = spike(v - theta)
    return v - theta * s, s


class RateIF(nn.Module):
    """IF neurons over ``T`` steps on the time-folded ``[T*B, ...]`` input
    currents (time-major); output ``theta * s``, same shape."""

    def __init__(self, T: int, theta: float | torch.Tensor, v_init: float = 0.5):
        super().__init__()
        if int(T) < 1:
            raise ValueError(f"T must be at least 1, got {T}")
        self.T = int(T)
        self.v_init = float(v_init)
        self.theta = nn.Parameter(torch.as_tensor(theta, dtype=torch.float32).detach().clone().reshape(()))
        setattr(self, NEURON_TAG, True)  # the energy counter records its firing rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        theta = self.theta.clamp(min=MIN_ALPHA)
        steps = x.view(self.T, x.shape[0] // self.T, *x.shape[1:])
        v = torch.full_like(steps[0], 0.0) + self.v_init * theta
        out = []
        for x_t in steps:
            v, s = if_subtract_step(v, x_t, theta)
            out.append(theta * s)
        return torch.stack(out).flatten(0, 1)

    def extra_repr(self) -> str:
        return f"T={self.T}, v_init={self.v_init} * theta"
