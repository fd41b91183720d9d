"""Integrate-and-fire neuron with hard reset (SDDPM / SDM).

Step equations, with input current ``I[n]`` and threshold ``v_th``::

    U[n] = V[n-1] + I[n]            (charge)
    S[n] = H(U[n] - v_th)           (fire; surrogate gradient backward)
    V[n] = U[n] * (1 - S[n])        (hard reset to 0)

``V[-1] = 0``. :func:`if_step` is the pure step; :class:`IFNeuron` loops it
over the leading time axis of ``x: [T, B, ...]``.
"""
from typing import Tuple

import torch
from torch import nn

from .surrogate import spike


def if_step(current: torch.Tensor, v: torch.Tensor, v_th: float = 1.0,
            surrogate: str = "atan", alpha: float = 2.0) -> Tuple[torch.Tensor, torch.Tensor]:
    """One IF step: ``(I[n], V[n-1]) -> (S[n], V[n])``."""
    u = v + current
    s = spike(u - v_th, surrogate, alpha)
    return s, u * (1.0 - s)


class IFNeuron(nn.Module):
    """``[T, B, ...]`` currents -> ``[T, B, ...]`` spikes; no state kept."""

    def __init__(self, T: int, v_th: float = 1.0, surrogate: str = "atan", alpha: float = 2.0):
        super().__init__()
        self.T, self.v_th, self.surrogate, self.alpha = T, v_th, surrogate, alpha

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = torch.zeros_like(x[0])
        out = []
        for current in x.unbind(0):
            s, v = if_step(current, v, self.v_th, self.surrogate, self.alpha)
            out.append(s)
        return torch.stack(out)

    def extra_repr(self) -> str:
        return f"T={self.T}, v_th={self.v_th}, surrogate={self.surrogate}, alpha={self.alpha}"


def make_if(T: int, v_th: float = 1.0, **params) -> nn.Module:
    return IFNeuron(T, v_th=v_th, **params)
