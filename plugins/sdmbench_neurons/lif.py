"""Leaky integrate-and-fire neuron on norse's ``lif_box`` step.

norse integrates ``dv/dt = (v_leak - v + i) / tau_mem`` with Euler steps of
``dt``; with ``dt = 1`` and ``tau_mem = tau`` one step is::

    U[n] = V[n-1] + (I[n] - V[n-1]) / tau     (leak + charge, v_leak = 0)
    S[n] = H(U[n] - v_th)
    V[n] = U[n] * (1 - S[n])                  (hard reset to 0)

the LIF of Spiking-Diffusion (tau = 2). The surrogate gradient is norse's
(``method``: super, tanh, triangle, circ, heavi_erfc; ``alpha`` its sharpness).
"""
from __future__ import annotations

import functools
import math
import warnings

import torch
from torch import nn


@functools.cache
def _lif_box():
    """norse's ``lif_box`` module, imported on a neuron's first forward pass, not when the plugin is loaded
    or its contract probed: importing norse pulls in matplotlib and TensorBoard (0.9 s of every command's
    start on a 2-core CPU) and warns that it uses ``torch.jit.script``. Imported once, not on every forward."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        from norse.torch.functional import lif_box
    return lif_box


class LIFNeuron(nn.Module):
    """``[T, B, ...]`` currents -> ``[T, B, ...]`` spikes; no state kept."""

    def __init__(self, T: int, v_th: float = 1.0, tau: float = 2.0,
                 method: str = "super", alpha: float = 4.0):
        super().__init__()
        if tau < 1.0:
            raise ValueError(f"LIF tau must be >= 1 time step, got {tau}")
        self.T, self.v_th, self.tau, self.method, self.alpha = T, v_th, tau, method, alpha
        self.p = None  # norse's LIFBoxParameters, made on the first forward pass

    def parameters_now(self) -> "LIFBoxParameters":
        """norse's parameters for this forward pass."""
        if self.p is None:
            self.p = _lif_box().LIFBoxParameters(
                tau_mem_inv=torch.as_tensor(1.0 / self.tau), v_leak=torch.as_tensor(0.0),
                v_th=torch.as_tensor(float(self.v_th)), v_reset=torch.as_tensor(0.0),
                method=self.method, alpha=torch.as_tensor(float(self.alpha)),
            )
        return self.p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lif_box = _lif_box()
        state, p = lif_box.LIFBoxFeedForwardState(v=torch.zeros_like(x[0])), self.parameters_now()
        out = []
        for current in x.unbind(0):
            s, state = lif_box.lif_box_feed_forward_step(current, state, p, dt=1.0)
            out.append(s)
        return torch.stack(out)

    def extra_repr(self) -> str:
        return f"T={self.T}, v_th={self.v_th}, tau={self.tau}, method={self.method}, alpha={self.alpha}"


def make_lif(T: int, v_th: float = 1.0, **params) -> nn.Module:
    return LIFNeuron(T, v_th=v_th, **params)


class ParametricLIFNeuron(LIFNeuron):
    """PLIF (Fang et al. 2021): the LIF above with a learned leak per layer,
    ``1 / tau = sigmoid(w)``, ``w`` initialised so that ``tau`` starts at ``tau``
    (``w = -ln(tau - 1)``; tau = 2 gives w = 0). ``tau`` stays above 1 step."""

    def __init__(self, T: int, v_th: float = 1.0, tau: float = 2.0, method: str = "super", alpha: float = 4.0):
        if tau <= 1.0:
            raise ValueError(f"PLIF's initial tau must be > 1 time step, got {tau}")
        super().__init__(T, v_th=v_th, tau=tau, method=method, alpha=alpha)
        self.w = nn.Parameter(torch.tensor(-math.log(tau - 1.0)))

    def parameters_now(self) -> "LIFBoxParameters":
        return super().parameters_now()._replace(tau_mem_inv=torch.sigmoid(self.w))

    def extra_repr(self) -> str:
        return f"T={self.T}, v_th={self.v_th}, tau={1.0 / torch.sigmoid(self.w).item():.3f} (learned)"


def make_plif(T: int, v_th: float = 1.0, **params) -> nn.Module:
    return ParametricLIFNeuron(T, v_th=v_th, **params)
