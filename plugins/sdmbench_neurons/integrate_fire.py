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
        if not (torch.is_grad_enabled() and x.requires_grad):
            return self._forward_inference(x)
        v = torch.zeros_like(x[0])
        out = []
        for current in x.unbind(0):
            s, v = if_step(current, v, self.v_th, self.surrogate, self.alpha)
            out.append(s)
        return torch.stack(out)

    @torch.no_grad()
    def _forward_inference(self, x: torch.Tensor) -> torch.Tensor:
        """The same equations in place, without autograd bookkeeping."""
        out = torch.empty_like(x)
        v = torch.zeros_like(x[0])
        fired = torch.empty(x.shape[1:], dtype=torch.bool, device=x.device)
        for t in range(x.shape[0]):
            v.add_(x[t])
            torch.ge(v, self.v_th, out=fired)
            out[t].copy_(fired)
            v.masked_fill_(fired, 0.0)
        return out

    def extra_repr(self) -> str:
        return f"T={self.T}, v_th={self.v_th}, surrogate={self.surrogate}, alpha={self.alpha}"


def make_if(T: int, v_th: float = 1.0, **params) -> nn.Module:
    return IFNeuron(T, v_th=v_th, **params)
