"""The two layers that make a U-Net convertible to IF neurons.

:class:`QuantClipReLU`: the quantised clipped ReLU of QCFS (Bu et al. 2022),
``L = 2^b - 1`` levels, learned clip ``alpha``::

    y = alpha * clip(floor(x L / alpha + 1/2) / L, 0, 1)

The floor has a straight-through gradient, so inside ``(0, alpha)`` the
gradient in ``x`` is 1 and in ``alpha`` the rounding residual
``(round(z) - z) / L`` (``z = x L / alpha``); above ``alpha`` the gradient in
``alpha`` is 1 (PACT), below 0 both are 0.

:class:`TimeGroupNorm`: GroupNorm that also runs on the time-folded
``[T*B, C, H, W]`` tensors of the converted network. GroupNorm is not a fixed
affine map at inference (its statistics are each sample's own), so it cannot
be folded into the weights. With ``time_steps = T > 1`` each sample's
statistics are those of its time-averaged input, and every step is normalised
with them::

    y[t] = gamma * (x[t] - mu(mean_t x)) / sqrt(var(mean_t x) + eps) + beta

so ``mean_t y = GroupNorm(mean_t x)`` exactly: the rate of the converted
network sees what the ANN sees. This needs all T steps of a layer's input
before its output (layer-by-layer simulation, as multi-step SNN simulators
do). With ``time_steps = 1`` it is ``nn.GroupNorm``.
"""
from __future__ import annotations

import torch
from torch import nn

#: smallest clip value used in the forward pass (alpha is a free parameter)
MIN_ALPHA = 1e-3


def quantised_clip_relu(x: torch.Tensor, alpha: torch.Tensor, levels: int) -> torch.Tensor:
    """``alpha * clip(floor(x L / alpha + 1/2) / L, 0, 1)`` with a straight-through floor."""
    alpha = alpha.clamp(min=MIN_ALPHA)
    z = (x / alpha).clamp(0.0, 1.0) * levels
    z = z + (torch.floor(z + 0.5) - z).detach()
    return z * (alpha / levels)


class QuantClipReLU(nn.Module):
    """b-bit quantised clipped ReLU with a learned clip ``alpha`` (initialised to ``alpha_init``)."""

    def __init__(self, bits: int, alpha_init: float = 6.0):
        super().__init__()
        if not 1 <= int(bits) <= 8:
            raise ValueError(f"bits must be between 1 and 8, got {bits}")
        if not alpha_init > 0:
            raise ValueError(f"alpha_init must be positive, got {alpha_init}")
        self.bits = int(bits)
        self.levels = 2 ** self.bits - 1
        self.alpha = nn.Parameter(torch.tensor(float(alpha_init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return quantised_clip_relu(x, self.alpha, self.levels)

    def extra_repr(self) -> str:
        return f"bits={self.bits}, levels={self.levels}"


class TimeGroupNorm(nn.GroupNorm):
    """``nn.GroupNorm`` whose statistics, for ``time_steps = T > 1``, come from
    the time-averaged input of each sample (see the module docstring)."""

    time_steps: int = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T = self.time_steps
        if T == 1:
            return super().forward(x)
        steps = x.view(T, x.shape[0] // T, self.num_groups, -1)
        rate = steps.mean(0)
        mean = rate.mean(-1, keepdim=True)
        var = rate.var(-1, unbiased=False, keepdim=True)
        y = ((steps - mean) * torch.rsqrt(var + self.eps)).view_as(x)
        if self.affine:
            shape = (1, -1) + (1,) * (x.dim() - 2)
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y
