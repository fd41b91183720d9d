"""Integrate-and-fire neuron with hard reset (SDDPM / SDM).

Step equations, with input current ``I[n]`` and threshold ``v_th``::

    U[n] = V[n-1] + I[n]            (charge)
    S[n] = H(U[n] - v_th)           (fire; surrogate gradient backward)
    V[n] = U[n] * (1 - S[n])        (hard reset to 0)

``V[-1] = 0``. :func:`if_step` is the pure step; :class:`IFNeuron` runs the
same equations over the leading time axis of ``x: [T, B, ...]`` as one fused
autograd function (:class:`IFSequence`): the forward loop keeps only the
membrane ``U``, and the backward pass walks time in reverse with the
gradient autograd would give through :func:`if_step` (surrogate ``s'``,
gradient through the reset included)::

    dL/dU[n] = dL/dS[n] s'(U[n] - v_th) + dL/dU[n+1] ((1 - S[n]) - U[n] s'(U[n] - v_th))
    dL/dI[n] = dL/dU[n]

``detach_reset=True`` (spikingjelly's option of the same name) drops the
``- U[n] s'`` term: the reset is treated as a constant in the backward pass.
The forward pass is unchanged.
"""
from typing import Tuple

import torch
from torch import nn

from .surrogate import SURROGATES, spike


def if_step(current: torch.Tensor, v: torch.Tensor, v_th: float = 1.0,
            surrogate: str = "atan", alpha: float = 2.0,
            detach_reset: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
    """One IF step: ``(I[n], V[n-1]) -> (S[n], V[n])``."""
    u = v + current
    s = spike(u - v_th, surrogate, alpha)
    return s, u * (1.0 - (s.detach() if detach_reset else s))


def _integrate(x: torch.Tensor, v_th: float, keep_membrane: bool):
    """The charge / fire / reset loop without autograd: ``(U or None, S)``.

    Float comparisons write straight into the spike tensor, and the reset is
    ``V = U * [U < v_th]``; this is 3x faster than boolean masks on CPU."""
    spikes = torch.empty_like(x)
    u_all = torch.empty_like(x) if keep_membrane else None
    v = torch.zeros_like(x[0])
    keep = torch.empty_like(v)
    for n in range(x.shape[0]):
        u = torch.add(v, x[n], out=u_all[n]) if keep_membrane else v.add_(x[n])
        torch.ge(u, v_th, out=spikes[n])
        torch.lt(u, v_th, out=keep)
        v = torch.mul(u, keep, out=v)
    return u_all, spikes


class IFSequence(torch.autograd.Function):
    """``x: [T, ...] -> spikes [T, ...]``, IF with hard reset, fused over T."""

    @staticmethod
    def forward(ctx, x, v_th, alpha, grad_fn, detach_reset=False):
        u_all, spikes = _integrate(x, v_th, keep_membrane=True)
        ctx.save_for_backward(u_all)
        ctx.v_th, ctx.alpha, ctx.grad_fn, ctx.detach_reset = v_th, alpha, grad_fn, detach_reset
        return spikes

    @staticmethod
    def backward(ctx, grad_spikes):
        (u_all,) = ctx.saved_tensors
        grad_x = torch.empty_like(grad_spikes)
        through_reset = torch.empty_like(u_all[0])
        for n in range(u_all.shape[0] - 1, -1, -1):  # step by step: cache-sized tensors, no graph
            u = u_all[n]
            sg = ctx.grad_fn(u - ctx.v_th, ctx.alpha)
            torch.mul(grad_spikes[n], sg, out=grad_x[n])
            if n + 1 < u_all.shape[0]:
                torch.lt(u, ctx.v_th, out=through_reset)
                if not ctx.detach_reset:
                    through_reset.sub_(sg.mul_(u))  # dV[n]/dU[n] = (1 - S[n]) - U[n] s'
                grad_x[n].addcmul_(grad_x[n + 1], through_reset)
        return grad_x, None, None, None, None


class IFNeuron(nn.Module):
    """``[T, B, ...]`` currents -> ``[T, B, ...]`` spikes; no state kept."""

    def __init__(self, T: int, v_th: float = 1.0, surrogate: str = "atan", alpha: float = 2.0,
                 detach_reset: bool = False):
        super().__init__()
        if surrogate not in SURROGATES:  # refused when the network is built, not at the first step
            raise ValueError(f"unknown surrogate '{surrogate}' (neuron_params.surrogate); known: "
                             f"{', '.join(SURROGATES)}")
        self.T, self.v_th, self.surrogate, self.alpha = T, v_th, surrogate, alpha
        self.detach_reset = bool(detach_reset)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (torch.is_grad_enabled() and x.requires_grad):
            return self._forward_inference(x)
        return IFSequence.apply(x, float(self.v_th), float(self.alpha), SURROGATES[self.surrogate],
                                self.detach_reset)

    def forward_stepwise(self, x: torch.Tensor) -> torch.Tensor:
        """:func:`if_step` looped under autograd: the reference the fused path is tested against."""
        v = torch.zeros_like(x[0])
        out = []
        for current in x.unbind(0):
            s, v = if_step(current, v, self.v_th, self.surrogate, self.alpha, self.detach_reset)
            out.append(s)
        return torch.stack(out)

    @torch.no_grad()
    def _forward_inference(self, x: torch.Tensor) -> torch.Tensor:
        """The same equations without autograd bookkeeping."""
        return _integrate(x, float(self.v_th), keep_membrane=False)[1]

    def extra_repr(self) -> str:
        return (f"T={self.T}, v_th={self.v_th}, surrogate={self.surrogate}, alpha={self.alpha}"
                + (", detach_reset=True" if self.detach_reset else ""))


def make_if(T: int, v_th: float = 1.0, **params) -> nn.Module:
    return IFNeuron(T, v_th=v_th, **params)
