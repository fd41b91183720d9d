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

``analytic`` is Analytic-DPM (Bao et al. 2022), the sampler of SDM's best
result: the DDPM mean (``lambda^2 = beta~``) with the optimal reverse
variance, from ``s = tau_{i-1}`` to ``n = tau_i`` with ``bb = 1 - abar``::

    sigma*^2 = lambda^2 + (sqrt(bb_n / a_ns) - sqrt(bb_s - lambda^2))^2 (1 - Gamma_n)
    lambda^2 = bb_s / bb_n (1 - a_ns),   a_ns = abar_n / abar_s
    Gamma_n  = E ||eps_theta(x_n, n)||^2 / d      (Monte Carlo over training images)

``Gamma_n`` is estimated once per trajectory (:meth:`GaussianDiffusion.moments`,
``moment_images`` training images) before sampling; ``1 - Gamma_n`` is clipped
to [0, 1].
"""
from __future__ import annotations

from typing import Callable, Dict, Optional, Sequence

import torch
from torch import nn


class GaussianDiffusion:
    #: sampler name -> eta of the generalised update
    samplers: Dict[str, Optional[float]] = {"ddpm": 1.0, "ddim": 0.0, "analytic": None}
    default_sampler = "ddim"
    #: samplers that need :meth:`moments` of the trained model on training images
    data_samplers = ("analytic",)

    def __init__(self, num_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02,
                 moment_images: int = 100):
        self.num_timesteps = num_timesteps
        self.moment_images = moment_images
        self.betas = torch.linspace(beta_start, beta_end, num_timesteps, dtype=torch.float64)
        self.alphas_bar = torch.cumprod(1.0 - self.betas, dim=0)

    def check_sampling(self, sampler: str, steps: int) -> None:
        """Raise ValueError when ``sampler`` cannot take ``steps`` denoising steps."""
        if not 1 <= steps <= self.num_timesteps:
            raise ValueError(f"--sample-steps must be in 1..{self.num_timesteps} (the process's timesteps), "
                             f"got {steps}")

    def timesteps(self, steps: int) -> torch.Tensor:
        """``steps`` evenly spaced timesteps from 0 to N-1, ascending, distinct."""
        if not 1 <= steps <= self.num_timesteps:
            raise ValueError(f"steps must be in 1..{self.num_timesteps}, got {steps}")
        return torch.linspace(0, self.num_timesteps - 1, steps, dtype=torch.float64).round().long().unique()

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        abar = self.alphas_bar.to(x0.device)[t].float().view(-1, *([1] * (x0.dim() - 1)))
        return abar.sqrt() * x0 + (1 - abar).sqrt() * noise

    def loss(self, backbone: nn.Module, x0: torch.Tensor, generator: Optional[torch.Generator] = None,
             rows: slice = slice(None)) -> torch.Tensor:
        """The loss on ``rows`` of the batch; timesteps and noise are drawn for the whole batch."""
        t = torch.randint(0, self.num_timesteps, (x0.shape[0],), device=x0.device, generator=generator)[rows]
        noise = torch.randn(x0.shape, device=x0.device, generator=generator)[rows]
        return nn.functional.mse_loss(backbone(self.q_sample(x0[rows], t, noise), t), noise)

    @torch.no_grad()
    def moments(self, backbone: nn.Module, x0: torch.Tensor, steps: int,
                generator: Optional[torch.Generator] = None, batch: int = 100) -> torch.Tensor:
        """``Gamma_t = E ||eps_theta(x_t, t)||^2 / d`` at each of the ``steps`` timesteps."""
        out = []
        for t in self.timesteps(steps).tolist():
            total = 0.0
            for chunk in x0.split(batch):
                noise = torch.randn(chunk.shape, generator=generator).to(chunk.device)
                tt = torch.full((len(chunk),), t, device=chunk.device, dtype=torch.long)
                eps = backbone(self.q_sample(chunk, tt, noise), tt)
                total += eps.double().pow(2).flatten(1).mean(1).sum().item()
            out.append(total / len(x0))
        return torch.tensor(out, dtype=torch.float64)

    @staticmethod
    def analytic_variance(abar_n: float, abar_s: float, gamma: float) -> float:
        """Analytic-DPM's optimal variance of ``x_s | x_n`` for the DDPM mean."""
        bb_n, bb_s, a_ns = 1 - abar_n, 1 - abar_s, abar_n / abar_s
        lam2 = bb_s / bb_n * (1 - a_ns)
        gap = ((bb_n / a_ns) ** 0.5 - max(bb_s - lam2, 0.0) ** 0.5) ** 2
        return lam2 + gap * min(max(1 - gamma, 0.0), 1.0)

    @torch.no_grad()
    def sample(self, backbone: nn.Module, n: int, shape: Sequence[int], *, sampler: str = "ddim",
               steps: int = 50, generator: Optional[torch.Generator] = None,
               device: torch.device | str = "cpu",
               on_step: Optional[Callable[[int], None]] = None,
               moments: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Generate ``n`` images of ``shape`` (C, H, W) in [-1, 1].

        ``moments``: :meth:`moments` for the same ``steps`` (``analytic`` only)."""
        if sampler not in self.samplers:
            raise ValueError(f"unknown sampler '{sampler}' for ddpm; known: {', '.join(self.samplers)}")
        eta = self.samplers[sampler]
        if sampler in self.data_samplers and (moments is None or len(moments) != len(self.timesteps(steps))):
            raise ValueError(f"sampler '{sampler}' needs moments() of the model for {steps} steps")
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
            lam = ((1 - abar_prev) / (1 - abar) * (1 - abar / abar_prev)) ** 0.5
            if eta is None:  # analytic: the DDPM mean, the optimal variance (none on the last step)
                sigma = self.analytic_variance(abar, abar_prev, float(moments[i])) ** 0.5 if i > 0 else 0.0
            else:
                sigma = lam = eta * lam
            x = abar_prev ** 0.5 * x0 + max(1 - abar_prev - lam ** 2, 0.0) ** 0.5 * eps
            if sigma > 0:
                x = x + sigma * torch.randn(x.shape, generator=generator, device="cpu").to(device)
            if on_step is not None:
                on_step(1)
        return x
