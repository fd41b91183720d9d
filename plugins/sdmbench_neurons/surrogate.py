"""Surrogate gradients: Heaviside forward, a smooth derivative backward.

Registered by name in :data:`SURROGATES`; a neuron takes ``surrogate=NAME``.

- ``atan``: ``dS/dx = (alpha/2) / (1 + (pi/2 * alpha * x)^2)`` (the SDDPM
  code, alpha = 2), derivative of ``arctan(pi/2 * alpha * x) / pi + 1/2``.
- ``sigmoid``: ``dS/dx = alpha * sig(alpha x) * (1 - sig(alpha x))``.
"""
import math
from typing import Callable, Dict

import torch


class _Spike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, alpha, grad_fn):
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        ctx.grad_fn = grad_fn
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * ctx.grad_fn(x, ctx.alpha), None, None


def _atan_grad(x: torch.Tensor, alpha: float) -> torch.Tensor:
    k = math.pi / 2 * alpha
    return torch.addcmul(torch.ones((), dtype=x.dtype, device=x.device), x, x, value=k * k) \
        .reciprocal_().mul_(alpha / 2)


def _sigmoid_grad(x: torch.Tensor, alpha: float) -> torch.Tensor:
    s = torch.sigmoid(alpha * x)
    return alpha * s * (1 - s)


SURROGATES: Dict[str, Callable[[torch.Tensor, float], torch.Tensor]] = {
    "atan": _atan_grad,
    "sigmoid": _sigmoid_grad,
}

#: the smooth functions whose derivatives the surrogates are (for tests)
SMOOTH: Dict[str, Callable[[torch.Tensor, float], torch.Tensor]] = {
    "atan": lambda x, a: torch.atan(math.pi / 2 * a * x) / math.pi + 0.5,
    "sigmoid": lambda x, a: torch.sigmoid(a * x),
}


def spike(x: torch.Tensor, surrogate: str = "atan", alpha: float = 2.0) -> torch.Tensor:
    """``H(x)`` (1 where x >= 0) with the named surrogate gradient."""
    try:
        grad_fn = SURROGATES[surrogate]
    except KeyError:
        raise ValueError(f"unknown surrogate '{surrogate}'; known: {', '.join(SURROGATES)}") from None
    return _Spike.apply(x, float(alpha), grad_fn)
