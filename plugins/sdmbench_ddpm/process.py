"""Gaussian diffusion (DDPM) apart from the network: the backbone is passed in.

Forward process, ``N`` steps, linear ``beta_t`` from ``beta_start`` to
``beta_end``, ``abar_t = prod_{s<=t} (1 - beta_s)``::

    x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps,   eps ~ N(0, I)

Loss: ``E_{t, eps} || eps - backbone(x_t, t) ||^2`` with ``t`` uniform.

Sampling walks a subsequence ``tau_1 < ... < tau_S`` of the steps with the
generalised DDIM update (Song et al. 2021), ``x0_hat`` clipped to [-1, 1]::

    sigma = eta * sqrt((1 - abar_prev) / (1 - abar)) * sqrt(1 - abar / abar_prev)
    x_prev = sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev - sigma^2) eps_hat + sigma z

``ddim`` is ``eta = 0``. ``ddpm`` is ``eta = 1``: on all N steps this is
exactly DDPM's ancestral sampler (``sigma^2 = beta~_t``), on fewer steps the
respaced DDPM of improved-diffusion.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional, Sequence

import torch
from torch import nn


class GaussianDiffusion:
    #: sampler name -> eta of the generalised update
    samplers: Dict[str, float] = {"ddpm": 1.0, "ddim": 0.0}

    def __init__(self, num_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02):
        self.num_timesteps = num_timesteps
        self.betas = torch.linspace(beta_start, beta_end, num_timesteps, dtype=torch.float64)
        self.alphas_bar = torch.cumprod(1.0 - self.betas, dim=0)

    def timesteps(self, steps: int) -> torch.Tensor:
        """``steps`` evenly spaced timesteps from 0 to N-1, ascending, distinct."""
        if not 1 <= steps <= self.num_timesteps:
            raise ValueError(f"steps must be in 1..{self.num_timesteps}, got {steps}")
        return torch.linspace(0, self.num_timesteps - 1, steps, dtype=torch.float64).round().long().unique()

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        abar = self.alphas_bar.to(x0.device)[t].float().view(-1, *([1] * (x0.dim() - 1)))
        return abar.sqrt() * x0 + (1 - abar).sqrt() * noise

    def loss(self, backbone: nn.Module, x0: torch.Tensor,
             generator: Optional[torch.Generator] = None) -> torch.Tensor:
        t = torch.randint(0, self.num_timesteps, (x0.shape[0],), device=x0.device, generator=generator)
        noise = torch.randn(x0.shape, device=x0.device, generator=generator)
        return nn.functional.mse_loss(backbone(self.q_sample(x0, t, noise), t), noise)

    @torch.no_grad()
    def sample(self, backbone: nn.Module, n: int, shape: Sequence[int], *, sampler: str = "ddim",
               steps: int = 50, generator: Optional[torch.Generator] = None,
               device: torch.device | str = "cpu",
               on_step: Optional[Callable[[int], None]] = None) -> torch.Tensor:
        """Generate ``n`` images of ``shape`` (C, H, W) in [-1, 1]."""
        if sampler not in self.samplers:
            raise ValueError(f"unknown sampler '{sampler}' for ddpm; known: {', '.join(self.samplers)}")
        eta = self.samplers[sampler]
        x = torch.randn((n, *shape), generator=generator, device="cpu").to(device)
        seq = self.timesteps(steps).tolist()
        abar_all = self.alphas_bar
        for i in reversed(range(len(seq))):
            t = seq[i]
            abar = float(abar_all[t])
            abar_prev = float(abar_all[seq[i - 1]]) if i > 0 else 1.0
            tt = torch.full((n,), t, device=device, dtype=torch.long)
            eps = backbone(x, tt)
            x0 = ((x - (1 - abar) ** 0.5 * eps) / abar ** 0.5).clamp(-1, 1)
            eps = (x - abar ** 0.5 * x0) / (1 - abar) ** 0.5
            sigma = eta * ((1 - abar_prev) / (1 - abar) * (1 - abar / abar_prev)) ** 0.5
            x = abar_prev ** 0.5 * x0 + max(1 - abar_prev - sigma ** 2, 0.0) ** 0.5 * eps
            if sigma > 0:
                x = x + sigma * torch.randn(x.shape, generator=generator, device="cpu").to(device)
            if on_step is not None:
                on_step(1)
        return x
