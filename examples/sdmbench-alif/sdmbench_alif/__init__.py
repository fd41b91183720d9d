"""Adaptive leaky integrate-and-fire neuron, registered as ``alif``.

Per step, with leak ``1/tau``, adaptation ``rho`` and strength ``beta``::

    U[n] = V[n-1] + (I[n] - V[n-1]) / tau
    theta[n] = v_th + beta * a[n-1]
    S[n] = H(U[n] - theta[n])          (sigmoid surrogate gradient)
    V[n] = U[n] * (1 - S[n])
    a[n] = rho * a[n-1] + (1 - rho) * S[n]

Every neuron fires less after it has fired: spike-frequency adaptation.
"""
import torch
from torch import nn

import sdmbench


def heaviside(x: torch.Tensor, slope: float = 4.0) -> torch.Tensor:
    """H(x) forward, d/dx sigmoid(slope x) backward (straight-through trick)."""
    soft = torch.sigmoid(slope * x)
    return (x >= 0).to(x.dtype) + (soft - soft.detach())


class ALIF(nn.Module):
    def __init__(self, T: int, v_th: float = 1.0, tau: float = 2.0, rho: float = 0.8, beta: float = 0.5):
        super().__init__()
        self.T, self.v_th, self.tau, self.rho, self.beta = T, v_th, tau, rho, beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = torch.zeros_like(x[0])
        a = torch.zeros_like(x[0])
        out = []
        for current in x.unbind(0):
            u = v + (current - v) / self.tau
            s = heaviside(u - (self.v_th + self.beta * a))
            v = u * (1 - s)
            a = self.rho * a + (1 - self.rho) * s
            out.append(s)
        return torch.stack(out)


def make_alif(T: int, v_th: float = 1.0, **params) -> nn.Module:
    return ALIF(T, v_th=v_th, **params)


@sdmbench.hookimpl
def sdmbench_register_neurons(registry):
    registry.add("alif", make_alif, description="adaptive LIF (example third-party plugin)")
