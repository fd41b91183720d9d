"""Absorbing-state discrete diffusion over N latent tokens (Austin et al. 2021;
Bond-Taylor et al. 2022), as Spiking-Diffusion uses it.

Tokens take values 0..K-1; the mask (absorbing) token is K.

- Forward: at step ``t`` in 1..N each token is masked with probability ``t / N``.
- Loss (reweighted ELBO): ``(1 - t/N) * sum_{masked i} CE(logits_i, x0_i) / (ln 2 * N)``,
  averaged over the batch.
- Sampling (``unmask``): start fully masked; for ``t = S..1`` each still-masked
  token is unmasked with probability ``1/t`` and drawn from
  ``Categorical(softmax(logits / temperature))``. At ``t = 1`` every remaining
  token is unmasked, so no mask token is left. With ``S < N`` steps, the
  denoiser sees ``t`` rescaled to the training range (``round(t N / S)``).
"""
from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

import torch
from torch import nn
from torch.nn import functional as F


class AbsorbingDiffusion:
    samplers = {"unmask": None}
    sampler_options = ("temperature",)

    def __init__(self, num_codes: int = 128, num_tokens: int = 49, temperature: float = 1.0):
        """``temperature``: the sampling temperature (``--set process.temperature=``), recorded in the
        protocol (``sampler_options``)."""
        if not (isinstance(temperature, (int, float)) and 0 < temperature < float("inf")):
            raise ValueError(f"process.temperature must be a positive number, got {temperature!r}")
        self.num_codes, self.num_tokens, self.mask_id = num_codes, num_tokens, num_codes
        self.temperature = float(temperature)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, generator: Optional[torch.Generator] = None):
        """Mask each token with probability ``t / N``: ``(x_t, mask)``."""
        p = (t.float() / self.num_tokens).view(-1, *([1] * (x0.dim() - 1)))
        mask = torch.rand(x0.shape, generator=generator, device="cpu").to(x0.device) < p
        return x0.masked_fill(mask, self.mask_id), mask

    def weight(self, t: torch.Tensor) -> torch.Tensor:
        """The reweighted-ELBO factor ``(1 - t/N) / (ln 2 * N)``."""
        return (1 - t.float() / self.num_tokens) / (math.log(2) * self.num_tokens)

    def loss(self, backbone: nn.Module, x0: torch.Tensor, generator: Optional[torch.Generator] = None):
        t = torch.randint(1, self.num_tokens + 1, (x0.shape[0],), generator=generator).to(x0.device)
        xt, mask = self.q_sample(x0, t, generator)
        ce = F.cross_entropy(backbone(xt, t), x0, reduction="none")  # [B, h, w]
        return (self.weight(t) * (ce * mask).flatten(1).sum(1)).mean()

    @torch.no_grad()
    def sample(self, backbone: nn.Module, n: int, shape: Sequence[int], *, sampler: str = "unmask",
               steps: Optional[int] = None, generator: Optional[torch.Generator] = None,
               device="cpu", temperature: Optional[float] = None,
               on_step: Optional[Callable[[int], None]] = None) -> torch.Tensor:
        """``n`` token maps of ``shape`` (h, w) with no mask token left."""
        if sampler not in self.samplers:
            raise ValueError(f"unknown sampler '{sampler}' for absorbing; known: {', '.join(self.samplers)}")
        steps = steps or self.num_tokens
        temperature = self.temperature if temperature is None else temperature
        x = torch.full((n, *shape), self.mask_id, dtype=torch.long, device=device)
        unmasked = torch.zeros(x.shape, dtype=torch.bool, device=device)
        for t in range(steps, 0, -1):
            changes = (torch.rand(x.shape, generator=generator).to(device) < 1.0 / t) & ~unmasked
            unmasked |= changes
            t_model = max(1, round(t * self.num_tokens / steps))
            logits = backbone(x, torch.full((n,), t_model, dtype=torch.long, device=device))
            probs = F.softmax(logits.float() / temperature, dim=1).permute(0, 2, 3, 1).reshape(-1, self.num_codes)
            draw = torch.multinomial(probs.cpu(), 1, generator=generator).view(x.shape).to(device)
            x = torch.where(changes, draw, x)
            if on_step is not None:
                on_step(1)
        return x
